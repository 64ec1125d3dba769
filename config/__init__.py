"""Configuration: SPEC §6 keys in TOML, decoded into typed Structs.

`load_config(path)` is the one entry: built-in defaults (config/default.toml)
overlaid by the file, every key and value checked. A bad file raises ConfigError
whose message is one line naming the key and the value.
"""

from repairlab.config.loader import config_digest, load_config, resolve_config_path
from repairlab.config.schema import Config

__all__ = ["Config", "config_digest", "load_config", "resolve_config_path"]
