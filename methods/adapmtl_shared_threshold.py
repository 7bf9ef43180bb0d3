"""AdapMTL ablation "w/o adaptive thresholds": one soft threshold shared by every component."""

from methods._adapmtl import AdapMTLBase


class AdapMTLSharedThreshold(AdapMTLBase):
    slug = "adapmtl_shared_threshold"
    description = "AdapMTL ablation: one soft threshold shared by backbone and all heads"
    shared_threshold = True
