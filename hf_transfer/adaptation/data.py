"""Source + target training data: one dataset, and a sampler that mixes both domains into every batch."""

from __future__ import annotations

import math

import torch
from datasets import Dataset
from torch.utils.data import Sampler

from ..data.images import concatenate_lazy

UNLABELLED = -100


def mix_domains(source: Dataset, target: Dataset) -> Dataset:
    """Source rows (``domains`` 0) then target rows (``domains`` 1, labels hidden as -100)."""
    source = source.add_column("domains", [0] * len(source))
    target = target.remove_columns([c for c in ("labels",) if c in target.column_names])
    target = target.add_column("labels", [UNLABELLED] * len(target))
    target = target.add_column("domains", [1] * len(target))
    columns = [c for c in source.column_names if c in target.column_names]
    return concatenate_lazy([source.select_columns(columns), target.select_columns(columns)])


class DomainMixSampler(Sampler[int]):
    """Index order for batches of ``batch_size`` rows: ``round(batch_size · source_fraction)`` source rows, the rest
    target rows. An epoch is one pass over the source; the target side cycles (reshuffled each pass).

    Works on the dataset from :func:`mix_domains` (source rows ``0 … n_source-1``, then target rows).
    """

    def __init__(
        self, n_source: int, n_target: int, batch_size: int, source_fraction: float = 0.5, seed: int = 0
    ):
        self.n_source, self.n_target, self.batch_size = n_source, n_target, batch_size
        self.per_batch_source = min(batch_size - 1, max(1, round(batch_size * source_fraction)))
        self.per_batch_target = batch_size - self.per_batch_source
        self.num_batches = math.ceil(n_source / self.per_batch_source)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def _cycle(self, n: int, needed: int, generator: torch.Generator) -> list[int]:
        order: list[int] = []
        while len(order) < needed:
            order += torch.randperm(n, generator=generator).tolist()
        return order[:needed]

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        sources = self._cycle(self.n_source, self.num_batches * self.per_batch_source, generator)
        targets = self._cycle(self.n_target, self.num_batches * self.per_batch_target, generator)
        for b in range(self.num_batches):
            yield from sources[b * self.per_batch_source : (b + 1) * self.per_batch_source]
            yield from (
                self.n_source + t
                for t in targets[b * self.per_batch_target : (b + 1) * self.per_batch_target]
            )
