"""The dense reference: no pruning, every hook left as the base class has it."""

from bench.method import PruningMethod


class Dense(PruningMethod):
    slug = "dense"
    description = "no pruning; the reference every ΔT is measured against"
