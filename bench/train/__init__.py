"""The training loop the benchmark owns; methods plug in through hooks (bench/method.py)."""

from bench.train.loop import TrainOptions, train_run

__all__ = ["TrainOptions", "train_run"]
