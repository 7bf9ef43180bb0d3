"""The one loader for the prepared format (datasets/prepared.py), whatever the dataset.

- `PreparedDataset(root, split)`: a memory-mapped split; `.batch(indices)` gives loader tensors.
- `TrainStream(dataset, batch_size, seed, start_step=0, crop=None, resize=None, hflip=True,
  num_workers=0, pin_memory=False, device=None)`: endless, deterministic, resumable batches.
- `eval_batches(dataset, batch_size, device=None)`: the split in order, no augmentation.

Batches are dicts `{"rgb": N×3×H×W float32 (normalised), <task>: target}` with targets as
docs/protocol.md §1 says: `segment_semantic` int64 N×H×W (255 = ignore), `normal` float32 N×3×H×W
(all-zero = invalid), `depth_zbuffer` float32 N×1×H×W (0 = invalid), `keypoints2d` and
`edge_texture` float32 N×1×H×W.
"""

from bench.data.dataset import PreparedDataset
from bench.data.stream import BatchPlan, TrainStream, eval_batches

__all__ = ["BatchPlan", "PreparedDataset", "TrainStream", "eval_batches"]
