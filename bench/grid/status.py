"""`bench grid --status`: a submitted grid as the cluster sees it (sacct), beside its run dirs."""

from __future__ import annotations

import datetime as dt
import logging
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ACTIVE = {
    "PENDING", "RUNNING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "CONFIGURING",
    "COMPLETING", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING",
}
FAILED = {
    "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED",
    "CANCELLED",
}


@dataclass(frozen=True)
class JobInfo:
    state: str
    exit_code: str = ""
    reason: str = ""


def _expand(job_id: str) -> list[str]:
    """`12_[0-3,5%2]` → 12_0 … 12_3, 12_5; plain ids unchanged."""
    match = re.fullmatch(r"(\d+)_\[([0-9,\-]+)(?:%\d+)?\]", job_id)
    if not match:
        return [job_id]
    ids = []
    for part in match.group(2).split(","):
        low, _, high = part.partition("-")
        ids += [f"{match.group(1)}_{i}" for i in range(int(low), int(high or low) + 1)]
    return ids


def query_sacct(array_job_id: str) -> dict[str, JobInfo] | None:
    """State of every task of the array; None when accounting cannot be read."""
    cmd = ["sacct", "-X", "-P", "-n", "-o", "JobID,State,ExitCode,Reason", "-j", array_job_id]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("sacct failed (%s); falling back to squeue", exc)
        return None
    jobs: dict[str, JobInfo] = {}
    for line in out.splitlines():
        fields = line.split("|")
        if len(fields) < 4:
            continue
        state = fields[1].split()[0] if fields[1] else "UNKNOWN"  # "CANCELLED by 0" → CANCELLED
        for job_id in _expand(fields[0]):
            jobs[job_id] = JobInfo(state, fields[2], fields[3] if fields[3] != "None" else "")
    return jobs


def query_squeue(array_job_id: str) -> dict[str, JobInfo]:
    cmd = ["squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", array_job_id]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    jobs = {}
    for line in out.splitlines():
        job_id, state, reason = (line.split("|") + ["", ""])[:3]
        jobs[job_id] = JobInfo(state, "", reason if reason != "None" else "")
    return jobs


def job_states(record: dict[str, Any]) -> dict[str, JobInfo]:
    array = str(record["array_job_id"])
    live = query_squeue(array)
    found = query_sacct(array)
    if found is None:
        found = dict(live)
        for run in record["runs"]:  # gone from the queue: finished, outcome unknown to Slurm
            found.setdefault(run["job_id"], JobInfo("UNKNOWN", "", "no accounting (sacct)"))
        return found
    # Accounting (slurmdbd) learns of state changes a moment after the controller does: a job
    # the queue still holds (e.g. just requeued) is active whatever its last record says.
    for job_id, info in live.items():
        if info.state in ACTIVE:
            found[job_id] = info
    return found


def last_error_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if "Error" in ln or "error" in ln or "Traceback" in ln]
    return (errors or lines or [""])[-1][:300]


def _not_listed(record: dict[str, Any]) -> JobInfo:
    # Accounting learns of a job a moment after sbatch returns; later, a job it does not know
    # belongs to another cluster state (e.g. a test cluster that was reset).
    created = dt.datetime.fromisoformat(record["created"])
    young = (dt.datetime.now(dt.timezone.utc) - created).total_seconds() < 60
    return JobInfo("PENDING") if young else JobInfo("UNKNOWN", "", "not known to sacct")


def describe(record: dict[str, Any], jobs: dict[str, JobInfo]) -> tuple[list[str], int, int]:
    """Status lines, the number of jobs still active and the number failed."""
    from bench.record.result import read_result

    lines, active, failed = [], 0, 0
    for run in record["runs"]:
        info = jobs.get(run["job_id"]) or _not_listed(record)
        result = read_result(run["run_dir"])
        on_disk = (result.status if result else None) or "missing"
        line = f"{info.state:<13} {run['job_id']:<10} {on_disk:<8} {run['run_dir']}"
        if info.state in ACTIVE:
            active += 1
            if info.reason and info.state == "PENDING":
                line += f"  (waiting: {info.reason})"
        elif info.state in FAILED or on_disk == "failed":
            failed += 1
            why = (result.data.get("reason") if result else None) or info.reason or last_error_line(Path(run["stderr"]))
            line += f"\n    reason: exit {info.exit_code or '?'}; {why}\n    log: {run['stderr']}"
        lines.append(line)
    return lines, active, failed


def show(record: dict[str, Any], path: Path, wait: bool = False, poll_s: float = 2.0) -> int:
    """Print the grid's state (once, or when every job has ended with `wait`); 1 if any failed."""
    while True:
        jobs = job_states(record)
        lines, active, failed = describe(record, jobs)
        if not (wait and active):
            break
        time.sleep(poll_s)
    print(f"grid {path}: array job {record['array_job_id']}, {len(record['runs'])} run(s)")
    print("\n".join(lines))
    counts: dict[str, int] = {}
    for run in record["runs"]:
        state = (jobs.get(run["job_id"]) or _not_listed(record)).state
        counts[state] = counts.get(state, 0) + 1
    print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    return 1 if failed else 0
