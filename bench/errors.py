"""Errors that the CLI turns into one clear line and a documented exit code."""

from bench.typed import ConfigError


class DataUnavailableError(RuntimeError):
    """A dataset cannot be fetched here (offline); the message says what to do. Exit code 3."""


class RunFailedError(RuntimeError):
    """A training run stopped (e.g. non-finite loss); its result.json says why. Exit code 1."""


EXIT_CODES = {ConfigError: 2, DataUnavailableError: 3, RunFailedError: 1}

__all__ = ["ConfigError", "DataUnavailableError", "RunFailedError", "EXIT_CODES"]
