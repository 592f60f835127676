"""Rendering: rich tables for terminals; JSON, CSV, YAML and JUnit for machines; text charts."""
