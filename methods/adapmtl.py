"""AdapMTL (ACM MM 2024): component-wise soft thresholds + adaptive task weighting (docs/protocol.md §6)."""

from methods._adapmtl import AdapMTLBase


class AdapMTL(AdapMTLBase):
    slug = "adapmtl"
    description = (
        "AdapMTL: learnable soft threshold per component (backbone, each head), one global "
        "weight decay set in closed loop to reach the target, adaptive task loss weights"
    )
