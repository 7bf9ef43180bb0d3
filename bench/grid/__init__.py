"""The benchmark grid outside DVC: plan it from the run directories (`plan`), run it on this
machine (`local`) or as one Slurm job array through submitit (`slurm`, `job`), follow it
(`status`) and hand the results back to the DVC pipeline (`handback`). See docs/cluster.md."""
