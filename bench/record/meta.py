"""What a method is, read from its source without importing it: where its runs start, whether
they need the dense run's rewind point, whether it changes the architecture.

These are class attributes of the method (bench/method.py documents them). `method_meta` finds
the method's class in `methods/<slug>.py` (or a BENCH_METHODS_PATH directory, or an imported
submission's code folder) with `ast` and
resolves each attribute the way Python would: the class body first, then its base classes in
method resolution order, following imports into the `methods` helpers and `bench` modules (e.g.
methods/_structured.py sets `start = "dense"`; bench/method.py's PruningMethod holds the
defaults). No torch, no plugin, no registry is imported; tests/test_method_meta.py checks the
answer against the imported classes for every registered method.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.record.code import (
    REPO_ROOT,
    _module_name,
    _module_path,
    _rel,
    code_root,
    method_module,
)

ATTRIBUTES = ("start", "needs_rewind", "changes_architecture")


class MetaError(ValueError):
    """The source does not say (a value that is not a literal, a base class that cannot be
    found, no class with the slug)."""


@dataclass(frozen=True)
class MethodMeta:
    start: str
    needs_rewind: bool
    changes_architecture: bool
    path: str  # the method's module, relative posix path (absolute for a plugin outside root)


@dataclass(frozen=True)
class _Module:
    path: Path
    classes: dict[str, ast.ClassDef]
    constants: dict[str, ast.expr]  # module-level NAME = value
    names: dict[str, tuple[str, str]]  # local name -> (module, attribute), from `from m import a`
    modules: dict[str, str]  # local name -> module, from `import m` / `import m as x`


_PARSED: dict[tuple[str, int, int], _Module] = {}
_Key = tuple[Path, str]  # (module file, class name)


def _module(path: Path, root: Path) -> _Module:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        _PARSED[key] = _read(path, root)
    return _PARSED[key]


def _read(path: Path, root: Path) -> _Module:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    name = _module_name(root, path) or ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    classes: dict[str, ast.ClassDef] = {}
    constants: dict[str, ast.expr] = {}
    names: dict[str, tuple[str, str]] = {}
    modules: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            constants[node.target.id] = node.value
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                anchor = parts[: len(parts) - (node.level - 1)]
                module = ".".join([*anchor, module] if module else anchor)
            for alias in node.names:
                names[alias.asname or alias.name] = (module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    modules[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    modules[top] = top
    return _Module(path, classes, constants, names, modules)


def _find_class(module_path: Path, name: str, root: Path, depth: int = 0) -> _Key | None:
    """Class `name` as seen from `module_path`: defined there, or imported into it."""
    if depth > 20:
        return None
    module = _module(module_path, root)
    if name in module.classes:
        return (module_path, name)
    if name in module.names:
        source, attr = module.names[name]
        target = _module_path(root, source)
        if target is not None:
            return _find_class(target, attr, root, depth + 1)
    return None


def _resolve_base(expr: ast.expr, module_path: Path, root: Path) -> _Key | None:
    if isinstance(expr, ast.Name):
        return _find_class(module_path, expr.id, root)
    if isinstance(expr, ast.Attribute):  # module.Class or package.module.Class
        chain: list[str] = [expr.attr]
        value = expr.value
        while isinstance(value, ast.Attribute):
            chain.insert(0, value.attr)
            value = value.value
        if isinstance(value, ast.Name):
            module = _module(module_path, root)
            base = module.modules.get(value.id)
            if base is None and value.id in module.names:
                base = ".".join(module.names[value.id])  # `from pkg import mod`
            if base is not None:
                target = _module_path(root, ".".join([base, *chain[:-1]]))
                if target is not None:
                    return _find_class(target, chain[-1], root)
    return None


def _linearize(key: _Key, root: Path, unresolved: list[str], stack: tuple[_Key, ...] = ()
               ) -> list[_Key]:
    """The C3 method resolution order of a class, over the bases found in the source."""
    if key in stack:
        raise MetaError(f"{key[1]} in {key[0]}: circular base classes")
    node = _module(key[0], root).classes[key[1]]
    bases: list[_Key] = []
    for expr in node.bases:
        base = _resolve_base(expr, key[0], root)
        if base is None:
            unresolved.append(ast.unparse(expr))
        else:
            bases.append(base)
    sequences = [_linearize(b, root, unresolved, (*stack, key)) for b in bases] + [bases]
    order = [key]
    while any(sequences):
        for seq in sequences:
            head = seq[0] if seq else None
            if head is not None and not any(head in s[1:] for s in sequences):
                break
        else:
            raise MetaError(f"{key[1]} in {key[0]}: no consistent method resolution order")
        order.append(head)
        sequences = [s[1:] if s and s[0] == head else s for s in sequences]
    return order


def _class_value(key: _Key, attribute: str, root: Path) -> tuple[bool, Any]:
    """(found, value) of `attribute` assigned in the body of class `key`."""
    module = _module(key[0], root)
    for stmt in module.classes[key[1]].body:
        value = _assigned(stmt, attribute)
        if value is not None:
            return True, _literal(value, module, attribute, key)
    return False, None


def _assigned(stmt: ast.stmt, name: str) -> ast.expr | None:
    """The value `stmt` assigns to `name` (`name = v`, `a = name = v`, `name: T = v`)."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AnnAssign):
        targets = [stmt.target]
    else:
        return None
    return stmt.value if any(isinstance(t, ast.Name) and t.id == name for t in targets) else None


def _literal(value: ast.expr, module: _Module, attribute: str, key: _Key) -> Any:
    if isinstance(value, ast.Name) and value.id in module.constants:
        value = module.constants[value.id]  # a module-level constant
    try:
        return ast.literal_eval(value)
    except ValueError:
        raise MetaError(
            f"{key[0]}:{value.lineno}: {key[1]}.{attribute} = {ast.unparse(value)} is not a "
            "literal; method facts must be readable without importing the method"
        ) from None


def _lookup(order: list[_Key], attribute: str, root: Path, unresolved: list[str]) -> Any:
    for key in order:
        found, value = _class_value(key, attribute, root)
        if found:
            return value
    cls = order[0]
    raise MetaError(
        f"{cls[0]}: class {cls[1]} does not say its {attribute!r}"
        + (f" (base classes not found in the source: {', '.join(unresolved)})" if unresolved else "")
    )


def method_meta(slug: str, root: Path = REPO_ROOT) -> MethodMeta:
    """`start`, `needs_rewind` and `changes_architecture` of method `slug`, from its source
    (an imported submission's from its code folder, bench/record/code.py)."""
    root = code_root(slug, root)
    path = method_module(slug, root)
    module = _module(path, root)
    candidates = []
    for name in module.classes:
        unresolved: list[str] = []
        order = _linearize((path, name), root, unresolved)
        try:
            if _lookup(order, "slug", root, unresolved) == slug:
                candidates.append((order, unresolved))
        except MetaError:
            continue  # a helper class without a slug
    if len(candidates) != 1:
        what = "no class" if not candidates else f"{len(candidates)} classes"
        raise MetaError(f"{path}: {what} with slug = {slug!r}; one module, one method")
    order, unresolved = candidates[0]
    start, rewind, arch = (_lookup(order, a, root, unresolved) for a in ATTRIBUTES)
    return MethodMeta(start=str(start), needs_rewind=bool(rewind),
                      changes_architecture=bool(arch), path=_rel(root, path))
