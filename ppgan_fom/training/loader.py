"""Deterministic batching of training pairs.

Batch ``step`` is a pure function of ``(seed, step, rank)``: each epoch shuffles the
items with a generator seeded by ``(seed, epoch)`` and each sample draws its frames and
augmentations from a generator seeded by ``(seed, step, slot)``. Resuming at step N
therefore replays exactly the batches an uninterrupted run would have seen, whatever
the number of worker threads.

With several processes (data parallel) the *global* batch of a step is the
``batch_size x world_size`` consecutive items of the epoch's permutation and rank r takes
its r-th block, as ``paddle.io.DistributedBatchSampler`` shards; ``slot`` is the sample's
position in the global batch. So N processes with batch B see exactly the samples (items,
frames, augmentations) of one process with batch N x B, and a checkpoint resumes with
another process count. (``DistributedBatchSampler`` itself is not used: its shuffle is
seeded by the epoch alone and it pads the item list to a multiple of the process count,
so its batches would change with the number of processes.)
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from .dataset import PairDataset

__all__ = ["PairLoader"]

Batch = Dict[str, object]


class PairLoader:
    """Batches of :class:`PairDataset` pairs, one batch per optimiser step.

    Args:
        dataset: the training pairs.
        batch_size: pairs per batch (per process when training on several devices).
        seed: base seed.
        num_workers: threads preparing the next batches while the model trains
            (0 = load in the training thread).
        rank, world_size: this process's share of each global batch (multi-device).
    """

    def __init__(self, dataset: PairDataset, batch_size: int, seed: int = 0, num_workers: int = 0,
                 rank: int = 0, world_size: int = 1):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.num_workers = max(0, int(num_workers))
        self.rank, self.world_size = int(rank), max(1, int(world_size))
        self.steps_per_epoch = max(1, len(dataset) // (self.batch_size * self.world_size))
        self._perm: Tuple[int, Optional[np.ndarray]] = (-1, None)

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm[0] != epoch:
            rng = np.random.default_rng([self.seed, 0x5EED, epoch])
            self._perm = (epoch, rng.permutation(len(self.dataset)))
        return self._perm[1]

    def indices(self, step: int) -> np.ndarray:
        """Dataset indices of this process's batch at global ``step``."""
        perm = self._permutation(self.epoch_of(step))
        start = ((step % self.steps_per_epoch) * self.world_size + self.rank) * self.batch_size
        idx = perm[start:start + self.batch_size]
        if len(idx) < self.batch_size:  # fewer items than one global batch: wrap around
            idx = np.resize(perm, start + self.batch_size)[start:]
        return idx

    def batch(self, step: int) -> Batch:
        """``{'source': (B, 3, S, S), 'driving': (B, 3, S, S)}`` float32 in [0, 1], ``'names'``
        and ``'slots'`` (B,) int: each sample's position in the step's global batch."""
        samples = []
        slots = np.arange(self.batch_size) + self.rank * self.batch_size
        for slot, index in zip(slots, self.indices(step)):
            rng = np.random.default_rng([self.seed, step, int(slot)])
            samples.append(self.dataset.sample(int(index), rng))
        return {"source": np.stack([s["source"] for s in samples]),
                "driving": np.stack([s["driving"] for s in samples]),
                "names": [s["name"] for s in samples], "slots": slots}

    def iterate(self, start: int, stop: int) -> Iterator[Tuple[int, Batch]]:
        """Yield ``(step, batch)`` for ``start <= step < stop``, prefetching with workers."""
        if self.num_workers == 0:
            for step in range(start, stop):
                yield step, self.batch(step)
            return
        ahead = max(2, self.num_workers)
        with ThreadPoolExecutor(self.num_workers, thread_name_prefix="fom-loader") as pool:
            pending: Dict[int, Future] = {}
            for step in range(start, stop):
                for s in range(step, min(stop, step + ahead)):
                    if s not in pending:
                        pending[s] = pool.submit(self.batch, s)
                yield step, pending.pop(step).result()
            for f in pending.values():
                f.cancel()
