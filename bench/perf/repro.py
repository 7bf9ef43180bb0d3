"""Wall time of the embedded-default pipeline (`dvc repro`) in a scratch copy of the repository.

The copy holds the working tree's files that git would see (tracked and untracked, not
ignored), committed into a fresh git repository, so nothing in the real checkout (runs/, data/,
the DVC cache) is reused or touched. The copy's own code runs (PYTHONPATH points at it, ahead of
the editable install). Usage:

    python -m bench.perf.repro [--out .benchmarks/repro.json] [--keep DIR]

`tests/test_bench_repro.py` reads the recorded file (or runs this with BENCH_REPRO=1).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

RECORD = Path(".benchmarks/repro.json")


def copy_tree(src: Path, dest: Path) -> int:
    """Copy the files git sees in `src` (tracked + untracked, not ignored); how many."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=src,
                            capture_output=True, check=True).stdout.decode().split("\0")
    files = [f for f in listed if f and (src / f).is_file()]
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, dest / name)
    if (src / ".dvc" / "config").exists() and not (dest / ".dvc" / "config").exists():
        (dest / ".dvc").mkdir(exist_ok=True)
        shutil.copy2(src / ".dvc" / "config", dest / ".dvc" / "config")
    return len(files)


def _git(dest: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
                   cwd=dest, check=True, capture_output=True)


def time_repro(src: Path, work: Path) -> dict[str, Any]:
    """Run `dvc repro` in a fresh copy of `src` under `work`; wall / CPU time and the outcome."""
    dest = work / "repo"
    dest.mkdir(parents=True)
    n_files = copy_tree(src, dest)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "snapshot for bench.perf.repro")
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    env = {**os.environ, "PYTHONPATH": str(dest)}
    params = yaml.safe_load((dest / "params.yaml").read_text())
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run([dvc, "repro"], cwd=dest, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True)
    return {
        "command": "dvc repro", "returncode": proc.returncode, "wall_seconds": round(wall, 1),
        "user_seconds": round(after.ru_utime - before.ru_utime, 1),
        "system_seconds": round(after.ru_stime - before.ru_stime, 1),
        "cpu_count": os.cpu_count(), "load_average_before": load_before,
        "load_average_after": os.getloadavg(), "files_copied": n_files,
        "source_commit": commit.stdout.strip() or None,
        "params": {k: params.get(k) for k in ("dataset", "backbone", "profile", "methods",
                                              "sparsities", "structured_sparsities", "seeds")},
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "stderr_tail": proc.stderr[-2000:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.repro", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RECORD)
    parser.add_argument("--keep", type=Path, default=None,
                        help="run in this (new) directory and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    src = Path.cwd()
    if args.keep:
        record = time_repro(src, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-repro-") as work:
            record = time_repro(src, Path(work))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"dvc repro: exit {record['returncode']}, {record['wall_seconds'] / 60:.1f} min wall "
          f"→ {args.out}")
    return 0 if record["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
