"""Declarative protocol files (``*.toml``), installed as ``hashbench.protocols``."""
