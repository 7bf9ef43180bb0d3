"""DiSparse (Sun et al., CVPR 2022) shared pieces: per-task scores and the union arbiter.

DiSparse *disentangles* the importance measure: each task t scores the weights its loss reaches
(the backbone and its own head, head_t) with its own loss alone, and the tasks then vote. A head
weight belongs to one task, so that task's ranking decides it; a backbone weight is kept if ANY
task keeps it (the "unanimous decision to prune": pruned only if every task agrees).

Calibration of the per-task keep ratio. Every task keeps the same fraction ρ of the weights it
scores: the top ⌈ρ·N_t⌉ of its own ranking over backbone ∪ head_t (N_t weights). The public
code hand-tunes ρ per dataset and target (e.g. 0.08 for 90 % on NYU-v2) and lands near, not on,
the target. Here ρ is solved for exactly. Write q_t(w) = rank_t(w) / N_t for w's 0-based rank
in task t's descending order; w is kept at ratio ρ iff min_t q_t(w) < ρ (min over the tasks
that score w: all of them for a backbone weight, one for a head weight). The kept count is
monotone in ρ, so bisection on ρ would converge to the breakpoint where it crosses the budget;
sorting the weights by min_t q_t(w) and keeping the first K lists those breakpoints directly,
i.e. it is that bisection carried to convergence with ties broken deterministically (stable sort
order). The result keeps exactly K = N − round(s·N) weights overall, and the backbone and the
heads end at different sparsities (backbone weights get T chances to be kept, head weights one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch

from bench.masks import Masks
from bench.method import Batch, Context, PrunableWeight

PAPER = (
    "Sun, Hassani, Wang, Huang, Shi. DiSparse: Disentangled Sparsification for Multitask "
    "Model Compression. CVPR 2022"
)

Scores = dict[str, torch.Tensor]  # PrunableWeight.name -> score, same shape as the weight


def kept_count(total: int, target_sparsity: float) -> int:
    """How many weights a target keeps: exactly `total − round(s·total)`."""
    return total - round(target_sparsity * total)


def task_reach(ctx: Context, task: str) -> list[PrunableWeight]:
    """The prunable weights task `task`'s loss reaches: the backbone, then its own head."""
    return ctx.prunable["backbone"] + ctx.prunable[task]


@contextlib.contextmanager
def isolated_calibration(ctx: Context) -> Iterator[None]:
    """Calibration passes leave no trace: BatchNorm running statistics are restored and the
    global RNG (head dropout) is forked, so training sees what it would have without them."""
    buffers = {k: v.detach().clone() for k, v in ctx.model.named_buffers()}
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices, device_type=ctx.device.type):
            torch.manual_seed(ctx.seed * 1_000_003 + 7 * ctx.step + 1)
            yield
    finally:
        with torch.no_grad():
            for name, value in ctx.model.named_buffers():
                value.copy_(buffers[name])


def per_task_gradients(
    ctx: Context, n_batches: int, tasks: Sequence[str] | None = None
) -> dict[str, Scores]:
    """{task: Σ_b |∂L_t/∂w|} over backbone ∪ head_t for `n_batches` calibration batches, on
    `ctx.device`, float32 (see `per_task_gradients_over`). Counted in `ctx.cost` (batches)."""
    if n_batches < 1:
        raise ValueError(f"calibration batches must be ≥ 1, got {n_batches}")
    return per_task_gradients_over(ctx, lambda: ctx.calibration_batches(n_batches), tasks)


def split_batch(batch: Batch, chunks: int) -> list[Batch]:
    """`batch` cut into `chunks` consecutive parts along its first dimension (fewer when the
    batch has fewer samples), every tensor cut alike."""
    parts = [dict(zip(batch, values, strict=True))
             for values in zip(*(t.chunk(chunks) for t in batch.values()), strict=True)]
    return parts


def per_task_gradients_over(
    ctx: Context, batches: Callable[[], Iterable[Batch]], tasks: Sequence[str] | None = None
) -> dict[str, Scores]:
    """{task: Σ_b |∂L_t/∂w|} over backbone ∪ head_t and the batches `batches()` yields.

    One forward per batch and one backward per task (retain_graph); absolute values are summed
    over batches, as the public DiSparse code accumulates them. Gradients are taken at the
    current effective weights (zeros where pruned) with `torch.autograd.grad`, so `.grad` is
    untouched; the passes leave no trace on BatchNorm statistics or the RNG
    (`isolated_calibration`). Per-task backward passes are counted in `cost.notes`.
    """
    tasks = tuple(tasks if tasks is not None else ctx.tasks)
    reach = {t: task_reach(ctx, t) for t in tasks}
    totals = {t: {w.name: torch.zeros_like(w.param, dtype=torch.float32) for w in reach[t]} for t in tasks}
    passes = 0
    with isolated_calibration(ctx):
        for batch in batches():
            losses = ctx.task_losses(batch)
            for i, t in enumerate(tasks):
                params = [w.param for w in reach[t]]
                grads = torch.autograd.grad(
                    losses[t], params, retain_graph=i < len(tasks) - 1, allow_unused=True
                )
                for w, g in zip(reach[t], grads, strict=True):
                    if g is not None:
                        totals[t][w.name].add_(g.detach().float().abs())
                passes += 1
    notes = ctx.cost.notes
    notes["per_task_backward_passes"] = notes.get("per_task_backward_passes", 0) + passes
    return totals


def per_task_connection_saliency(ctx: Context, n_batches: int) -> dict[str, Scores]:
    """{task: Σ_b |g_t ⊙ w|} (SNIP's connection sensitivity of each task's own loss)."""
    grads = per_task_gradients(ctx, n_batches)
    weights = {w.name: w.param.detach().float().abs() for w in ctx.all_prunable()}
    return {t: {n: g.mul_(weights[n]) for n, g in scores.items()} for t, scores in grads.items()}


def per_task_magnitude(ctx: Context) -> dict[str, Scores]:
    """{task: |w|} over backbone ∪ head_t (the public code's pruning-after-training score on
    NYU-v2 and Cityscapes); the backbone's scores are the same for every task, but each task
    ranks them against its own head."""
    return {
        t: {w.name: w.param.detach().float().abs() for w in task_reach(ctx, t)} for t in ctx.tasks
    }


def _normalised_ranks(scores: Scores, names: Sequence[str]) -> torch.Tensor:
    """q(w) = rank(w) / N over the concatenation of `names`: 0 for the best score, descending;
    ties broken by position (stable sort), so the order is deterministic."""
    flat = torch.cat([scores[n].detach().flatten().float() for n in names])
    order = torch.sort(flat, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(order.numel(), device=order.device)
    return ranks.double().div_(order.numel())


def union_arbiter(
    ctx: Context, scores: dict[str, Scores], n_keep: int
) -> tuple[Masks, float]:
    """DiSparse's masks keeping exactly `n_keep` weights, and the calibrated keep ratio ρ.

    `scores[t]` covers backbone ∪ head_t. Head weights of t are kept by t's own ranking; a
    backbone weight is kept if any task keeps it; every task keeps the same fraction ρ of its
    ranking, with ρ solved so that the union plus the heads keep exactly `n_keep` (module doc).
    """
    backbone = [w.name for w in ctx.prunable["backbone"]]
    heads = {t: [w.name for w in ctx.prunable[t]] for t in ctx.tasks}
    if set(ctx.prunable) != {"backbone", *ctx.tasks}:
        raise ValueError(f"DiSparse needs components backbone + one head per task, got {list(ctx.prunable)}")
    n_backbone = sum(scores[ctx.tasks[0]][n].numel() for n in backbone)
    best: torch.Tensor | None = None
    head_q: list[torch.Tensor] = []
    for t in ctx.tasks:
        q = _normalised_ranks(scores[t], backbone + heads[t])
        best = q[:n_backbone] if best is None else torch.minimum(best, q[:n_backbone])
        head_q.append(q[n_backbone:])
    assert best is not None
    q_all = torch.cat([best, *head_q])
    total = q_all.numel()
    n_keep = max(0, min(n_keep, total))
    keep = torch.zeros(total, dtype=torch.bool, device=q_all.device)
    order = torch.sort(q_all, stable=True).indices
    keep[order[:n_keep]] = True
    keep_ratio = float(q_all[order[n_keep]]) if n_keep < total else 1.0
    del q_all, order
    keep = keep.cpu()
    masks: Masks = {}
    offset = 0
    shapes = {w.name: w.param.shape for w in ctx.all_prunable()}
    for name in backbone + [n for t in ctx.tasks for n in heads[t]]:
        size = shapes[name].numel()
        masks[name] = keep[offset : offset + size].view(shapes[name])
        offset += size
    return masks, keep_ratio
