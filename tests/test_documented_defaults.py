"""Documented defaults match the code: a parameter written as `name` (value) in a method's section
of docs/methods.md must equal what that method runs with by default (params.yaml's
method_params, else the Params dataclass default), and a sentence saying how many steps "the
default" trains must name the profile's iteration count. Text that drifts from params.yaml fails
here instead of misleading a reader."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.registry import discover

ROOT = Path(__file__).parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
DOCS = ROOT / "docs" / "methods.md"
# `name` (value ...), the parenthesis' leading number, percent or literal; or, in the lists of
# defaults, `name` value — (a dash after the value).
DOCUMENTED = re.compile(r"`(\w+)` (?:\((-?[\d.,]+(?:e-?\d+)?%?|true|false|null)[^)]*\)"
                        r"|(-?[\d.]+(?:e-?\d+)?%?|true|false|null),? (?:`\w+` [^ ]+ )?—)")


def sections() -> dict[str, str]:
    text = DOCS.read_text()
    parts = re.split(r"^## (\w+)\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def effective(slug: str) -> dict[str, Any]:
    cls = discover()[slug]
    values = {f.name: f.default for f in dataclasses.fields(cls.Params)
              if f.default is not dataclasses.MISSING}
    values.update(PARAMS["method_params"].get(slug) or {})
    return values


def parse(text: str) -> Any:
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    value = float(text.rstrip("%").replace(",", ""))
    return value / 100 if text.endswith("%") else value


def documented(slug: str) -> list[tuple[str, str]]:
    fields = set(effective(slug))
    return [(k, a or b) for k, a, b in DOCUMENTED.findall(sections().get(slug, "")) if k in fields]


@pytest.mark.parametrize("slug", sorted(m for m in discover() if m in sections()))
def test_documented_method_defaults_match_the_code(slug: str) -> None:
    values = effective(slug)
    for key, text in documented(slug):
        want = values[key]
        got = parse(text)
        if isinstance(want, bool) or want is None:
            assert got == want, f"docs/methods.md §{slug}: `{key}` ({text}) but the default is {want}"
        else:
            assert got == pytest.approx(float(want)), (
                f"docs/methods.md §{slug}: `{key}` ({text}) but the default is {want}")


def test_the_check_sees_the_documented_parameters() -> None:
    found = {slug: documented(slug) for slug in sections() if slug in discover()}
    assert sum(len(v) for v in found.values()) >= 15
    assert ("drop_fraction", "0.5") in found["disparse_dynamic"]


STEPS = re.compile(r"(?<!old )(?<!earlier )(?<!later )(?<!previous )default (?:trains|takes|runs|is) "
                   r"([\d,]+) steps")


def test_the_default_step_count_in_prose_is_the_profiles() -> None:
    iterations = PARAMS["profiles"][PARAMS["profile"]]["iterations"]
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    seen = 0
    for path in texts:
        for match in STEPS.finditer(path.read_text()):
            seen += 1
            assert int(match.group(1).replace(",", "")) == iterations, (
                f"{path.relative_to(ROOT)}: '{match.group(0)}' but the profile trains {iterations}")
    assert seen >= 1
