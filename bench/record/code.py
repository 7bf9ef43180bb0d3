"""The code a run's result depends on, read from the source: its files and their hashes.

A run executes the benchmark's training code (`core_files`: the import closure of `bench/train`
within the `bench` and `datasets` packages) and one method's code (`method_files`: its module
and the helpers it imports). `fingerprint(slug)` hashes both sets, so an edit to
`methods/snip.py` changes SNIP's fingerprint and nobody else's; `changed_files` names what
changed between two fingerprints.

Everything is derived from the source with `ast` (every `import` anywhere in a file, function
bodies included; `if TYPE_CHECKING:` blocks never run and are skipped), so this module never
imports torch, a plugin or `bench.registry`. Modules that cannot change a result are left out
on purpose (`RESULT_NEUTRAL`, each with its reason); their own imports are not followed.
tests/test_code_fingerprint.py pins what counts, and tests/test_pipeline_deps.py checks that
every module a run really imports is either counted or listed here.

A method imported with `bench import` is read from its submission's code folder,
`submissions/<slug>/code/`, laid out as the repository (`methods/<slug>.py` and its helpers):
that folder sees this checkout's modules under its own, as `methods.__path__` extended with it
does when `bench verify` runs the method, so its files keep the keys they had in the author's
checkout (`methods/<slug>.py`) and its fingerprint is comparable with the one its runs recorded.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
METHODS_PACKAGE = "methods"
# The packages whose modules a fingerprint can hold (third-party code is the environment's).
FIRST_PARTY = ("bench", "datasets", METHODS_PACKAGE)
CORE_PACKAGES = ("bench", "datasets")
# The training entry points: every module of this package, and what they import.
TRAINING = "bench/train"
# Imported submissions (bench/submit): `<root>/submissions/<slug>/code/`, laid out as the
# repository. Read only here and by `bench verify`, never imported otherwise.
SUBMISSIONS_DIR = "submissions"
SUBMISSION_CODE_DIR = "code"

# Modules that decide no result, by path (a folder ends with "/"). A result is what a run
# computes (its weights, metrics, sparsity, cost); what is written around it is not.
RESULT_NEUTRAL: dict[str, str] = {
    "bench/__init__.py": "the package marker and its version string, read only into provenance",
    "bench/cli/": "argument parsing and printing; every setting it hands a run is in the run's "
    "resolved config, which the identity hashes",
    "bench/grid/": "grid orchestration (which runs to start, in which pool or Slurm job); a run "
    "computes the same whoever starts it",
    "bench/aggregate/": "reads finished results into the leaderboard; never runs inside a run",
    "bench/report/": "renders the report from finished results",
    "bench/perf/": "timing and throughput measurements, outside training",
    "bench/registry.py": "finds the plugins; which method runs is in the identity (its name) and "
    "its code is in the method's own files",
    "bench/provenance.py": "records git commit, library versions, host and times in result.json; "
    "describes a run, changes none of its numbers",
    "bench/io.py": "atomic writes and loads of bytes as given, and a named error for a corrupt "
    "file",
    "bench/errors.py": "exception classes and exit codes",
    "bench/train/logger.py": "writes the per-step curves (dvclive) of values the loop computed; "
    "feeds nothing back into training",
    "bench/train/runlock.py": "the run folder's lock and the 'is it finished' test: whether a run "
    "trains, not what it computes",
    "bench/record/code.py": "this fingerprint: part of a run's identity, not of its computation",
    "bench/record/meta.py": "method facts read from the source for planning; the run uses the "
    "class attributes themselves (bench/method.py, in the core)",
    "datasets/synthetic.py": "generates the embedded dataset on first use (with its "
    "datasets/synthetic_*.py helpers); what it generates is the prepared data, which the "
    "identity hashes through the data manifest",
}


def result_neutral(path: str) -> bool:
    """Whether the repository file `path` (relative, posix) is left out of every fingerprint."""
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in RESULT_NEUTRAL)


# ---------------------------------------------------------------------------------------------
# Per-file facts, cached by (path, mtime_ns, size): a grid plan asks once per run.


@dataclass(frozen=True)
class _FileFacts:
    sha: str  # sha256 of the bytes, 16 hex digits
    imports: tuple[tuple[str, tuple[str, ...], int], ...]  # (module, names, level) per import


_FACTS: dict[tuple[str, int, int], _FileFacts] = {}


def _facts(path: Path) -> _FileFacts:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    facts = _FACTS.get(key)
    if facts is None:
        data = path.read_bytes()
        facts = _FileFacts(hashlib.sha256(data).hexdigest()[:16], _parse_imports(data, path))
        _FACTS[key] = facts
    return facts


def file_hash(path: Path) -> str:
    """sha256 of the file's bytes, 16 hex digits (cached by path, mtime and size)."""
    return _facts(path).sha


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _parse_imports(source: bytes, path: Path) -> tuple[tuple[str, tuple[str, ...], int], ...]:
    found: list[tuple[str, tuple[str, ...], int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:  # the body never runs
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, (), 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", tuple(a.name for a in node.names), node.level))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source, filename=str(path)))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Modules and files.


# A submission's code folder → the checkout whose modules it sees under its own.
_OVERLAID: dict[Path, Path] = {}
# slug → the code folder `bench import` is checking before it moves it into place.
_STAGED: dict[str, Path] = {}


def _search_roots(root: Path) -> tuple[Path, ...]:
    """Where modules are looked up from `root`: itself, then (for a submission's code folder)
    the checkout it was imported into."""
    home = _OVERLAID.get(root.resolve())
    return (root,) if home is None else (root, home)


def _module_path(root: Path, module: str) -> Path | None:
    """The file of first-party `module` under `root` (module or package), if it exists."""
    if module.split(".")[0] not in FIRST_PARTY:
        return None
    for search in _search_roots(root):
        base = search.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _relative(root: Path, path: Path) -> Path | None:
    for search in _search_roots(root):
        try:
            return path.resolve().relative_to(search.resolve())
        except ValueError:
            continue
    return None


def _module_name(root: Path, path: Path) -> str | None:
    """The dotted name of a file under `root`; None outside it (a plugin directory's module)."""
    rel = _relative(root, path)
    if rel is None:
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _rel(root: Path, path: Path) -> str:
    """The key of a file in a fingerprint: relative to `root` (posix); absolute outside it."""
    rel = _relative(root, path)
    return rel.as_posix() if rel is not None else path.resolve().as_posix()


def _imported_modules(root: Path, path: Path) -> set[str]:
    """First-party modules `path` imports, with the packages above them (importing `a.b.c`
    runs `a/__init__.py` and `a/b/__init__.py` first)."""
    name = _module_name(root, path)
    package = (name or "") if path.name == "__init__.py" else (name or "").rpartition(".")[0]
    modules: set[str] = set()
    for module, names, level in _facts(path).imports:
        if level:
            parts = package.split(".") if package else []
            if level - 1 > len(parts):
                continue
            anchor = parts[: len(parts) - (level - 1)]
            module = ".".join([*anchor, module] if module else anchor)
        if not module or module.split(".")[0] not in FIRST_PARTY:
            continue
        candidates = [module] + [f"{module}.{n}" for n in names if n != "*"]
        for candidate in candidates:
            if _module_path(root, candidate) is None:
                continue  # `from pkg import name`: a name, not a submodule
            pieces = candidate.split(".")
            modules.update(".".join(pieces[:i]) for i in range(1, len(pieces) + 1))
    return modules


# Closures already computed inside `memoized()`, by everything that decides them; None outside.
_CLOSURES: dict[tuple[Any, ...], frozenset[Path]] | None = None


@contextmanager
def memoized() -> Iterator[None]:
    """Inside the block each import closure is computed once. Planning a grid asks for the same
    two closures (the training code's, the method's) once per run, ~0.15 s each: 10 s of every
    `bench grid` stage. A command's files do not change while it runs; outside the block every
    call reads them afresh (tests edit files between calls)."""
    global _CLOSURES
    outer = _CLOSURES
    if outer is None:
        _CLOSURES = {}
    try:
        yield
    finally:
        _CLOSURES = outer


def _closure(root: Path, start: Iterable[Path], packages: tuple[str, ...]) -> set[Path]:
    """Files reachable from `start` through imports of `packages`, result-neutral ones left out
    (and not followed). The start files themselves are included."""
    start = list(start)
    key = (root, tuple(start), packages, tuple(sorted(_STAGED.items())),
           tuple(sorted(_OVERLAID.items())))
    if _CLOSURES is not None and key in _CLOSURES:
        return set(_CLOSURES[key])
    seen = _closure_uncached(root, start, packages)
    if _CLOSURES is not None:
        _CLOSURES[key] = frozenset(seen)
    return seen


def _closure_uncached(root: Path, start: list[Path], packages: tuple[str, ...]) -> set[Path]:
    seen: set[Path] = set()
    todo = [p for p in start if not result_neutral(_rel(root, p))]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        name = _module_name(root, path) or ""
        parents = name.split(".")[:-1]  # packages whose __init__.py runs before the module
        above = {".".join(parents[:i]) for i in range(1, len(parents) + 1)}
        for module in sorted(_imported_modules(root, path) | above):
            if module.split(".")[0] not in packages:
                continue
            target = _module_path(root, module)
            if target is not None and target not in seen and not result_neutral(_rel(root, target)):
                todo.append(target)
    return seen


def _sorted_rel(root: Path, paths: Iterable[Path]) -> list[str]:
    return sorted({_rel(root, p) for p in paths})


def core_files(root: Path = REPO_ROOT) -> list[str]:
    """The benchmark code every run executes and that decides its result (relative posix paths,
    sorted): the import closure of `bench/train/*.py` within `bench` and `datasets`, without the
    `RESULT_NEUTRAL` modules."""
    start = sorted((root / TRAINING).glob("*.py"))
    return _sorted_rel(root, _closure(root, start, CORE_PACKAGES))


def method_dirs(root: Path = REPO_ROOT) -> list[Path]:
    """Where methods are found, in the registry's order: `methods/`, then every directory of the
    environment variable BENCH_METHODS_PATH (os.pathsep-separated)."""
    extra = filter(None, os.environ.get("BENCH_METHODS_PATH", "").split(os.pathsep))
    return [root / METHODS_PACKAGE, *(Path(p) for p in extra)]


def method_slugs(root: Path = REPO_ROOT) -> list[str]:
    """Every method module's slug (not the `_` helpers), found by file name: what the registry
    would try to import."""
    return sorted({p.stem for d in method_dirs(root) for p in d.glob("*.py")
                   if not p.stem.startswith("_")})


def method_module(slug: str, root: Path = REPO_ROOT) -> Path:
    """The file of method `slug`: `methods/<slug>.py`, else `<dir>/<slug>.py` of the first
    BENCH_METHODS_PATH directory holding it. KeyError when there is none."""
    if not slug or slug.startswith("_") or not slug.isidentifier():
        raise KeyError(f"{slug!r} is not a method slug")
    for directory in method_dirs(root):
        path = directory / f"{slug}.py"
        if path.is_file():
            return path
    raise KeyError(f"no module for method {slug!r} in {', '.join(map(str, method_dirs(root)))}")


def submission_code_dir(slug: str, root: Path = REPO_ROOT) -> Path | None:
    """The code folder of submission `slug` (`bench import`; during an import, the folder it is
    checking), or None when there is none."""
    staged = _STAGED.get(slug)
    if staged is not None:
        return staged
    folder = root / SUBMISSIONS_DIR / slug / SUBMISSION_CODE_DIR
    return folder if (folder / METHODS_PACKAGE / f"{slug}.py").is_file() else None


@contextmanager
def staged_submission(slug: str, folder: Path) -> Iterator[None]:
    """Read submission `slug`'s code from `folder` while the block runs (`bench import` checks
    a bundle's identities before moving it into place)."""
    _STAGED[slug] = folder
    try:
        yield
    finally:
        _STAGED.pop(slug, None)


def code_root(slug: str, root: Path = REPO_ROOT) -> Path:
    """Where method `slug`'s own code is read: `root` for a method of this checkout (or of a
    BENCH_METHODS_PATH directory), else its submission's code folder, which sees the modules of
    `root` under its own (a method of the checkout always wins: `bench import` refuses a slug
    the checkout has)."""
    try:
        method_module(slug, root)
        return root
    except KeyError:
        folder = submission_code_dir(slug, root)
        if folder is None:
            return root  # method_module raises its own message later
        _OVERLAID[folder.resolve()] = root
        return folder


def method_files(slug: str, root: Path = REPO_ROOT) -> list[str]:
    """Method `slug`'s own code (relative posix paths, sorted; a plugin outside `root` by its
    absolute path): its module, every `methods` module it imports transitively (helpers such as
    methods/_adapmtl.py, other methods it builds on) with the packages above them, and any
    `bench`/`datasets` module it reaches that is not in `core_files` already. A submitted
    method's files are keyed as in the author's checkout (`methods/<slug>.py`)."""
    source = code_root(slug, root)
    closure = _closure(source, [method_module(slug, source)], FIRST_PARTY)
    core = set(core_files(root))
    return [f for f in _sorted_rel(source, closure) if f not in core]


Fingerprint = dict[str, dict[str, str]]


def fingerprint(slug: str, root: Path = REPO_ROOT) -> Fingerprint:
    """{"files": {path: sha256[:16]}} over `method_files(slug)` and `core_files()`, sorted."""
    source = code_root(slug, root)
    files = {f: file_hash(_abs(source, f)) for f in method_files(slug, root)}
    files.update({f: file_hash(_abs(root, f)) for f in core_files(root)})
    return {"files": dict(sorted(files.items()))}


def _abs(root: Path, rel: str) -> Path:
    """The file of fingerprint key `rel` seen from `root` (a submission's code folder sees the
    checkout's files under its own)."""
    path = Path(rel)
    if path.is_absolute():
        return path
    for search in _search_roots(root):
        if (search / path).is_file():
            return search / path
    return root / path


def canonical_json(fp: Mapping[str, Any]) -> str:
    """The stable text of a fingerprint: sorted keys, fixed separators (byte-identical for equal
    fingerprints)."""
    return json.dumps(fp, sort_keys=True, indent=2, ensure_ascii=True) + "\n"


def digest(fp: Mapping[str, Any]) -> str:
    """sha256 of the fingerprint's canonical JSON, 16 hex digits."""
    compact = json.dumps(fp, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(compact.encode()).hexdigest()[:16]


def changed_files(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Paths added, removed or changed between two fingerprints, sorted (for a message such as
    "code changed: methods/snip.py")."""
    before: Mapping[str, str] = old.get("files", {})
    after: Mapping[str, str] = new.get("files", {})
    return sorted(p for p in {*before, *after} if before.get(p) != after.get(p))
