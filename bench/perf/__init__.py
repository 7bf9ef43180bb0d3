"""Performance measurement: how much a method costs per training step relative to `dense`
(`steps`), evaluation and loader throughput (`throughput`), projected GPU time of the paper
profiles (`projection`) and dense-with-zeros vs sparse-kernel inference latency (`latency`).

Numbers that compare methods are ratios taken in one process, interleaved, on the same model
size, batches and device, so machine load affects both sides of a ratio alike. See
docs/performance.md.
"""
