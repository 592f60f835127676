"""Reading what users write: YAML files and stdin, units, fields, presets, config.json import, schema.

`load`, `loads` and `Scenario` are the entry points; the modules below them each do one job.
"""

from .files import expand_paths, read_text
from .load import Scenario, load, load_all, loads

__all__ = ["Scenario", "expand_paths", "load", "load_all", "loads", "read_text"]
