"""Multi-task networks: a shared backbone and one DeepLab-v2 ASPP head per task (SPEC §3)."""

from bench.models.multitask import MultiTaskModel, build_model

__all__ = ["MultiTaskModel", "build_model"]
