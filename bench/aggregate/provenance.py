"""What the ranked results were made with: commits, versions, CPU kernels, devices, counted
(docs/report.md). Reads result.json only: no torch here."""

from __future__ import annotations

from collections import Counter
from typing import Any


def provenance_counts(parsed: list[dict[str, Any]]) -> dict[str, Any]:
    prov = [r.get("provenance") or {} for r in parsed]

    def count(*keys: str) -> dict[str, int]:
        values = []
        for p in prov:
            parts = [str(p[k]) for k in keys if p.get(k) not in (None, "")]
            if parts:
                values.append(" / ".join(parts))
        return dict(sorted(Counter(values).items()))

    return {
        "git_commits": count("git_commit"),
        "git_dirty_runs": sum(1 for p in prov if p.get("git_dirty")),
        "bench_versions": count("bench_version"),
        "torch_versions": count("torch_version"),
        # The CPU kernel set torch dispatched to (provenance.cpu_capability); runs recorded
        # before it was are not counted.
        "cpu_capabilities": count("cpu_capability"),
        "python_versions": count("python_version"),
        "devices": count("device", "device_name"),
    }
