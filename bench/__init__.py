"""mtl-prune-bench: a reproducible benchmark for sparse multi-task learning."""

__version__ = "0.1.0"
