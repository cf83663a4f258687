"""Source + target training data: one dataset, and a sampler that mixes both domains into every batch."""

from __future__ import annotations

import math

import torch
from datasets import Dataset
from torch.utils.data import Sampler

from ...data.images import WeakAndStrongViews, concatenate_lazy, lazy_transform


def mix_domains(source: Dataset, target: Dataset, missing_labels: list) -> Dataset:
    """Source rows (``domains`` 0) then target rows (``domains`` 1, ``labels`` = ``missing_labels``: the task
    objective's "no label", -100 for a class id, a row of NaN for a multi-task label vector)."""
    source = source.add_column("domains", [0] * len(source))
    target = target.remove_columns([c for c in ("labels",) if c in target.column_names])
    target = target.add_column("labels", missing_labels, feature=source.features["labels"])
    target = target.add_column("domains", [1] * len(target))
    columns = [c for c in source.column_names if c in target.column_names]
    return concatenate_lazy([source.select_columns(columns), target.select_columns(columns)])


def with_strong_views(mixed: Dataset) -> Dataset:
    """The mixed rows with FixMatch's second, strongly augmented view of every image (``strong_pixel_values``)."""
    transform = lazy_transform(mixed)
    return mixed.with_transform(WeakAndStrongViews(transform)) if transform is not None else mixed


class DomainMixSampler(Sampler[int]):
    """Index order for batches of ``batch_size`` rows: ``round(batch_size · source_fraction)`` source rows, the rest
    target rows. An epoch is one pass over the source; the target side cycles (reshuffled each pass).

    Works on the dataset from :func:`mix_domains` (source rows ``0 … n_source-1``, then target rows).

    Several per-device batches can make one optimizer step: ``N`` data-parallel processes (accelerate gives
    rank ``r`` every N-th batch of this order) times ``A`` accumulation steps. :meth:`set_step_batches` (called by
    :class:`~hf_transfer.training.trainer.TransferTrainer` with ``N · A``) makes the order step-wise: each step
    draws the rows one batch of ``N · A · batch_size`` would (``round(N·A·batch_size · source_fraction)`` source
    rows, clamped so that every batch keeps at least one row of each domain, from the same shuffled streams) and
    deals them out to its ``N · A`` batches in order, each batch taking an equal share of the step's source rows
    (±1) and target rows to fill it. So a 2-process run with batch ``B`` (or ``B`` with 2 accumulation steps)
    trains on exactly the rows of a 1-process run with batch ``2B``, step by step, and its epoch has as many steps.
    The order depends only on ``seed``, the epoch (:meth:`set_epoch`) and these sizes, so every rank draws the
    same order and a resumed run that skips the first batches of an epoch sees the rest of the same order.
    """

    def __init__(
        self, n_source: int, n_target: int, batch_size: int, source_fraction: float = 0.5, seed: int = 0
    ):
        self.n_source, self.n_target, self.batch_size = n_source, n_target, batch_size
        self.source_fraction = source_fraction
        self.seed, self.epoch = seed, 0
        self.set_step_batches(1)

    def set_step_batches(self, step_batches: int) -> None:
        """How many consecutive batches of this order make one optimizer step (processes × accumulation)."""
        self.step_batches = max(1, int(step_batches))
        rows, n = self.batch_size * self.step_batches, self.step_batches
        self.per_step_source = min(rows - n, max(n, round(rows * self.source_fraction)))
        self.per_step_target = rows - self.per_step_source
        self.num_steps = math.ceil(self.n_source / self.per_step_source)
        # Each batch's share of its step's source rows (the first ``per_step_source % n`` batches take one more).
        base, extra = divmod(self.per_step_source, n)
        self.batch_sources = [base + (i < extra) for i in range(n)]

    @property
    def per_batch_source(self) -> int:
        """Source rows of the first batch of a step (every batch's, when they divide evenly)."""
        return self.batch_sources[0]

    @property
    def per_batch_target(self) -> int:
        return self.batch_size - self.per_batch_source

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_steps * self.step_batches * self.batch_size

    def _cycle(self, n: int, needed: int, generator: torch.Generator) -> list[int]:
        order: list[int] = []
        while len(order) < needed:
            order += torch.randperm(n, generator=generator).tolist()
        return order[:needed]

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        sources = self._cycle(self.n_source, self.num_steps * self.per_step_source, generator)
        targets = self._cycle(self.n_target, self.num_steps * self.per_step_target, generator)
        s, t = 0, 0
        for _ in range(self.num_steps):
            for n_source in self.batch_sources:
                n_target = self.batch_size - n_source
                yield from sources[s : s + n_source]
                yield from (self.n_source + i for i in targets[t : t + n_target])
                s, t = s + n_source, t + n_target
