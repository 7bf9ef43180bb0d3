"""Method discovery: every module `methods/<slug>.py` defining a PruningMethod is registered.

There is no list to edit. Modules whose name starts with `_` are shared helpers, not methods.
Extra method directories can be named in the environment variable `BENCH_METHODS_PATH`
(os.pathsep-separated), which is how a new method is tried before it is moved into `methods/`.
An imported submission (`bench import`, submissions/<slug>/code/) is never registered, unless
the environment variable `BENCH_RUN_SUBMITTED` names its slug: `bench verify <slug>` sets it for
its own call (and the runs it starts), appending the submission's `methods/` folder to the
`methods` package's path, so that its module and helpers import as they did in the author's
checkout (`bench import` refused helpers that differ from this checkout's).
A module that fails to import, defines no method, defines a slug that differs from its file
name, repeats a slug or has invalid parameter defaults is recorded in `broken()` with its error;
the other methods are unaffected.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
import traceback
from pathlib import Path

from bench.method import START_POINTS, PruningMethod

_METHODS: dict[str, type[PruningMethod]] | None = None
_BROKEN: dict[str, str] = {}
# os.pathsep-separated slugs of imported submissions whose code may run (set by `bench verify`).
RUN_SUBMITTED_ENV = "BENCH_RUN_SUBMITTED"


def _submitted_dirs() -> dict[Path, str]:
    """The `methods/` folders of the submissions BENCH_RUN_SUBMITTED names, with their slugs,
    appended to the `methods` package's path."""
    import methods
    from bench.record.code import METHODS_PACKAGE, submission_code_dir

    found = {}
    for slug in filter(None, os.environ.get(RUN_SUBMITTED_ENV, "").split(os.pathsep)):
        folder = submission_code_dir(slug)
        if folder is None:
            continue
        directory = folder / METHODS_PACKAGE
        if str(directory) not in methods.__path__:
            methods.__path__.append(str(directory))
        found[directory] = slug
    return found


def _method_dirs() -> list[tuple[str, Path]]:
    import methods

    submitted = _submitted_dirs()
    # A submission's folder adds its own method only (it may also hold copies of this
    # checkout's modules it imports, which are this checkout's already).
    dirs = [("methods", Path(p)) for p in methods.__path__ if Path(p) not in submitted]
    dirs += [("methods", d) for d in submitted]
    for extra in filter(None, os.environ.get("BENCH_METHODS_PATH", "").split(os.pathsep)):
        dirs.append(("", Path(extra)))
    return dirs


def _import(package: str, directory: Path, name: str):  # type: ignore[no-untyped-def]
    if package:
        return importlib.import_module(f"{package}.{name}")
    module_name = f"bench_extra_methods.{name}"
    spec = importlib.util.spec_from_file_location(module_name, directory / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _check(cls: type[PruningMethod], name: str) -> None:
    if cls.slug != name:
        raise ValueError(f"slug {cls.slug!r} must equal the module name {name!r}")
    if not cls.description:
        raise ValueError("missing a one-line `description`")
    if not dataclasses.is_dataclass(cls.Params):
        raise TypeError("`Params` must be a dataclass")
    cls.Params()  # defaults must construct
    if cls.start not in START_POINTS:
        raise ValueError(f"start {cls.start!r} must be one of {', '.join(START_POINTS)}")
    if cls.needs_rewind and cls.start != "dense":
        raise ValueError("needs_rewind needs start = 'dense' (the rewind point is the dense run's)")
    if not isinstance(cls.changes_architecture, bool):
        raise TypeError("`changes_architecture` must be True or False")


def discover(refresh: bool = False) -> dict[str, type[PruningMethod]]:
    global _METHODS
    if _METHODS is not None and not refresh:
        return _METHODS
    found: dict[str, type[PruningMethod]] = {}
    _BROKEN.clear()
    submitted = set(filter(None, os.environ.get(RUN_SUBMITTED_ENV, "").split(os.pathsep)))
    for package, directory in _method_dirs():
        for info in sorted(pkgutil.iter_modules([str(directory)]), key=lambda i: i.name):
            name = info.name
            if name.startswith("_") or (_is_submission(directory) and name not in submitted):
                continue
            try:
                module = _import(package, directory, name)
                classes = [
                    c
                    for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, PruningMethod)
                    and c.__module__ == module.__name__
                    and not inspect.isabstract(c)
                    and c.slug
                ]
                if not classes:
                    raise TypeError("defines no PruningMethod subclass with a slug")
                if len(classes) > 1:
                    raise TypeError(f"defines {len(classes)} methods; one module, one method")
                cls = classes[0]
                _check(cls, name)
                if cls.slug in found:
                    raise ValueError(f"duplicate slug {cls.slug!r}")
                found[cls.slug] = cls
            except Exception as exc:  # a broken plugin must not stop the others
                last = traceback.extract_tb(exc.__traceback__)[-1:]  # where it broke
                where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last else ""
                _BROKEN[name] = f"{type(exc).__name__}: {exc}{where}"
    _METHODS = dict(sorted(found.items(), key=lambda kv: (kv[0] != "dense", kv[0])))
    return _METHODS


def _is_submission(directory: Path) -> bool:
    from bench.record.code import REPO_ROOT, SUBMISSIONS_DIR

    return directory.parent.parent.parent == REPO_ROOT / SUBMISSIONS_DIR


def broken() -> dict[str, str]:
    discover()
    return dict(_BROKEN)


def get_method_class(slug: str) -> type[PruningMethod]:
    methods = discover()
    if slug in methods:
        return methods[slug]
    if slug in broken():
        raise KeyError(f"method {slug!r} is broken: {_BROKEN[slug]}")
    raise KeyError(f"unknown method {slug!r} (known: {', '.join(methods)})")
