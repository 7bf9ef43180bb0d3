"""Arguments shared by several subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def add_params_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--params", default="params.yaml", help="the configuration file (default: params.yaml)"
    )
    parser.add_argument(
        "--profile", default=None, help="use this profile from the file instead of `profile:`"
    )


def load(args: argparse.Namespace) -> Any:
    from bench.config import load_config

    # Each command-line override replaces its top-level key before validation.
    overrides = {
        key: getattr(args, key)
        for key in ("profile", "dataset", "backbone")
        if getattr(args, key, None) is not None
    }
    return load_config(args.params, overrides or None)
