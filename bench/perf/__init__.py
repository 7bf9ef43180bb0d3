"""Performance measurement: how much a method costs per training step relative to `dense`
(`steps`), evaluation and loader throughput (`throughput`), projected GPU time of the paper
profiles (`projection`), dense-with-zeros vs sparse-kernel inference latency (`latency`) and
the same at paper size for the pruned architectures (`paper_size`, `paper_models`).

Numbers that compare methods are ratios taken in one process, interleaved, on the same model
size, batches and device, so machine load affects both sides of a ratio alike. See
docs/performance.md.
"""
