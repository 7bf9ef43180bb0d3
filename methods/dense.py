"""The dense reference: no pruning, every hook left as the base class has it.

Its one parameter is for the runs that start from it (docs/protocol.md §5): the runner saves the
dense run's full state after `rewind_fraction` of its steps as `rewind.pt`, the early checkpoint
a lottery ticket rewinds to (late rewinding). (It also saves `branch.pt` after
`budget.branch_fraction` of its steps, where the from-dense methods start under the equal
budget; that fraction belongs to the budget, not to this method.) Frankle, Dziugaite, Roy, Carbin (ICML 2020,
"Linear mode connectivity and the lottery ticket hypothesis") find that deeper networks give
matching tickets only when rewound to a point a few percent into training, once the network has
become stable to SGD noise, not to step 0. 5 % is in that range and still before the first
learning-rate decay of every profile here (the paper profiles' 20,000 steps → step 1,000,
before their first decay at 4,000; `bench methods` shows the CPU default's figure).
"""

from dataclasses import dataclass

from bench.method import PruningMethod


@dataclass(frozen=True)
class DenseParams:
    # Fraction of the dense run's steps after which it saves rewind.pt (late rewinding).
    rewind_fraction: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.rewind_fraction <= 1:
            raise ValueError(f"rewind_fraction must be in (0, 1], got {self.rewind_fraction}")


class Dense(PruningMethod):
    slug = "dense"
    description = "no pruning; the reference every ΔT is measured against"
    Params = DenseParams
