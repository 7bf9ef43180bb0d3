"""AdapMTL ablation: component-wise soft thresholds, fixed equal task loss weights (w_t = 1)."""

from methods._adapmtl import AdapMTLBase


class AdapMTLEqualWeights(AdapMTLBase):
    slug = "adapmtl_equal_weights"
    description = "AdapMTL ablation: component-wise soft thresholds, equal task loss weights"
    adaptive_weights = False
