"""Configuration layer: safe YAML with source places, typed validation, frozen config objects."""

from fpgasim.config.schema import (
    SCHEMA_KEY, Bool, Check, DirName, Float, Fraction, Int, NonNegFloat, NonNegInt, PosFloat, PosInt, Str,
    config_class, load, read_versioned, validate,
)
from fpgasim.config.yaml_source import KeyPath, YamlDocument, format_key_path, parse_yaml, read_yaml

__all__ = [
    "SCHEMA_KEY", "Bool", "Check", "DirName", "Float", "Fraction", "Int", "NonNegFloat", "NonNegInt",
    "PosFloat", "PosInt", "Str", "config_class", "load", "read_versioned", "validate",
    "KeyPath", "YamlDocument", "format_key_path", "parse_yaml", "read_yaml",
]
