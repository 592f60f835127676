"""The bodies of the CLI's commands beyond `estimate`: sweep, compare, roadmap, validate, presets."""
