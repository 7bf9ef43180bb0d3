"""`bench aggregate` and `bench report` run where torch cannot be imported at all: they read JSON,
and the run identities they check (code fingerprint included) come from files alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest_slurm import write_params
from fixtures.results import build_fixture_runs

ROOT = Path(__file__).parents[1]
# A finder ahead of all others makes any `import torch` (or a submodule) fail with ImportError,
# as on a machine without torch. (Mapping sys.modules["torch"] to None would also break scipy,
# which looks torch up in sys.modules by name.)
_BLOCK = """
import sys

class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is unimportable in this test")
        return None

sys.meta_path.insert(0, _NoTorch())
"""
_CLI = _BLOCK + """
from bench.cli import main
code = main(sys.argv[1:])
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules if sys.modules[m]), \\
    "torch was imported"
sys.exit(code)
"""


def _bench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _CLI, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=None)


def test_aggregate_and_report_cli_with_torch_unimportable(tmp_path: Path) -> None:
    write_params(tmp_path, methods=["snip"], sparsities=[0.9])
    build_fixture_runs(tmp_path / "runs", methods=("snip",), sparsities=(0.9,), seeds=(0, 1))
    # With identities checked against params.yaml (the pipeline's way): the fixture runs are
    # stale, which is listed, not a failure.
    done = _bench(tmp_path, "aggregate", "--runs", "runs", "--out", "reports")
    assert done.returncode == 0, done.stderr
    assert "stale" in done.stdout
    done = _bench(tmp_path, "aggregate", "--runs", "runs", "--out", "reports", "--any-identity")
    assert done.returncode == 0, done.stderr
    done = _bench(tmp_path, "report", "--leaderboard", "reports/leaderboard.json", "--runs", "runs",
                  "--out", "reports/site")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "reports" / "site" / "index.html").is_file()


def test_the_guard_works() -> None:
    """The guard itself stops code that imports torch."""
    done = subprocess.run([sys.executable, "-c", _BLOCK + "import bench.train"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode != 0 and "ImportError" in done.stderr
