"""Multi-task networks: a shared backbone and one DeepLab-v2 ASPP head per task (docs/protocol.md §3)."""

from bench.models.multitask import MultiTaskModel, build_model

__all__ = ["MultiTaskModel", "build_model"]
