"""Dataset fetch + prepare code (NYU-v2, Tiny-Taskonomy, the embedded synthetic default)."""

from datasets.registry import DATASETS, DatasetSpec, dataset_spec

__all__ = ["DATASETS", "DatasetSpec", "dataset_spec"]
