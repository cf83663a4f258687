"""``TransferTrainer``: ``transformers.Trainer`` with strategy-aware optimizer groups and pickle-free saving."""

from __future__ import annotations

import logging
import os

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..data.images import KeepColumns, lazy_transform
from ..run_files import TRAINING_ARGS_JSON
from ..strategies.schedules import parameter_groups

logger = logging.getLogger(__name__)


class SamplerEpochCallback(TrainerCallback):
    """Sets the train sampler's epoch as each epoch begins (``int(state.epoch)``: the epoch a resumed run is in).
    The Trainer's own ``set_epoch`` misses it in one case: resuming mid-epoch with several processes, where
    ``skip_first_batches`` wraps accelerate's ``BatchSamplerShard`` (which forwards no ``set_epoch``), so a
    resumed epoch ≥ 1 would replay epoch 0's order."""

    def __init__(self, sampler=None):
        self.sampler = sampler

    def on_epoch_begin(self, args, state, control, **kwargs):
        if self.sampler is not None:
            self.sampler.set_epoch(int(state.epoch or 0))


class EpochLengthGroupedSampler(LengthGroupedSampler):
    """``group_by_length`` (transformers' ``LengthGroupedSampler``) shuffled by ``seed + epoch`` instead of the
    global RNG, with groups of a whole optimizer step (``batch_size`` = per-device batch × processes ×
    accumulation steps). Every rank draws the same order, N processes draw the 1-process order, and a run resumed
    mid-epoch (which draws the epoch's order before the Trainer restores the RNG states) draws the order the
    uninterrupted run drew."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


class TransferTrainer(Trainer):
    """A ``Trainer`` that knows the transfer strategy.

    - The optimizer holds every parameter the strategy will ever train (gradual unfreezing adds parameters
      mid-run), in one group per block when ``layerwise_lr_decay`` is set.
    - Saved folders hold the arguments as JSON, not a pickled ``training_args.bin``.
    - The Trainer knows no wrapper: a model that returns ``loss_parts`` (a dict of 0-dim tensors) in its output
      has each part's mean logged, gathered over processes; a model's ``logged_values()`` (if it has one) adds
      current values (λ, task weights) to each training log.
    - Every model's loss is taken as the mean over its (per-device, per-micro-) batch: the Trainer divides it by
      the accumulation steps and DDP averages it over processes. (``Trainer`` otherwise guesses from a
      ``**kwargs`` in ``forward`` that the model normalises by ``num_items_in_batch`` itself, which stock
      sequence classifiers, ``PooledClassifier`` and ``DomainAdversarialModel`` do not; the loss then came out
      × accumulation steps and × processes, huggingface/transformers#47688.) So batch B × N processes ×
      accumulation A trains like one process with batch B·N·A.
    - A run-specific sampler (domain mixing, task batches) is told how many per-device batches make one
      optimizer step (processes × accumulation steps), so that it draws the same global batches as one process
      with the whole batch would (see ``set_step_batches`` on the samplers); ``group_by_length`` groups per
      optimizer step too and is seeded by epoch (:class:`EpochLengthGroupedSampler`). The sampler's epoch is set
      by :class:`SamplerEpochCallback`, also when a multi-process run resumes mid-epoch, so a resumed run draws
      the batches the uninterrupted run drew.

    Everything else is the stock ``Trainer``: devices, precision and distribution come from accelerate.
    """

    def __init__(self, *args, strategy=None, train_sampler=None, task_loss=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.strategy = strategy
        self.train_sampler = train_sampler
        self.task_loss = task_loss  # a loss from (logits, labels), e.g. class-weighted; None: the model's own
        self._loss_parts: dict[str, list[float]] = {}
        self.model_accepts_loss_kwargs = False  # per-batch mean losses (see the class docstring)
        self._sampler_epoch = SamplerEpochCallback()
        self.add_callback(self._sampler_epoch)

    def _get_train_sampler(self, train_dataset=None):
        """A run-specific sampler (e.g. source/target batch mixing) when one was given, told how many
        per-device batches form one optimizer step (accelerate gives rank ``r`` every N-th batch); otherwise the
        stock choice, with ``group_by_length`` made step-wise and epoch-seeded (:class:`EpochLengthGroupedSampler`)."""
        if self.train_sampler is None:
            sampler = super()._get_train_sampler(train_dataset)
            if type(sampler) is LengthGroupedSampler:
                seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
                sampler = EpochLengthGroupedSampler(
                    sampler.batch_size * max(1, self.args.world_size), sampler.lengths, seed
                )
        else:
            sampler = self.train_sampler
            if hasattr(sampler, "set_step_batches"):
                sampler.set_step_batches(max(1, self.args.world_size) * self.args.gradient_accumulation_steps)
        if hasattr(sampler, "set_epoch"):
            self._sampler_epoch.sampler = sampler
        return sampler

    def _remove_unused_columns(self, dataset, description: str | None = None):
        """A dataset with a lazy transform (images) keeps its stored columns, which the transform reads; only the
        model's inputs come out of the transform. Other datasets lose their unused columns as usual."""
        transform = lazy_transform(dataset)
        if transform is None or not self.args.remove_unused_columns:
            return super()._remove_unused_columns(dataset, description)
        self._set_signature_columns_if_needed()
        return dataset.with_transform(KeepColumns(transform, self._signature_columns))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The stock loss, or ``task_loss(logits, labels)`` when set (class weights) — a per-batch mean like a
        model's own loss, so gradient accumulation and several processes scale it as they scale that one (not
        ``compute_loss_func``, whose loss the Trainer takes as already scaled); the loss parts a model returns in
        its output's ``loss_parts`` are kept for the logs."""
        if self.task_loss is not None and "labels" in inputs:
            inputs = dict(inputs)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = self.task_loss(outputs["logits"], labels)
            return (loss, outputs) if return_outputs else loss
        loss, outputs = super().compute_loss(
            model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
        )
        parts = outputs.get("loss_parts") if model.training and isinstance(outputs, dict) else None
        for key, value in (parts or {}).items():
            if value is not None:
                self._loss_parts.setdefault(key, []).append(value.detach())  # no host sync
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        """Training logs also carry each loss part's mean since the last log, and the model's ``logged_values()``
        (a wrapper's λ, learned task weights)."""
        if "loss" in logs:
            logs.update(self._mean_loss_parts())
            self._loss_parts = {}
            values = getattr(self.accelerator.unwrap_model(self.model), "logged_values", None)
            if callable(values):
                logs.update(values())
        super().log(logs, *args, **kwargs)

    def _mean_loss_parts(self) -> dict[str, float]:
        """Each loss part's mean since the last log, over every process (NaN marks a part absent from a batch,
        e.g. a task no row of which was drawn). Every process calls ``log`` and a model returns the same parts on
        every process, so the gather is collective."""
        keys = list(self._loss_parts)
        if not keys:
            return {}
        device = self.args.device
        local = torch.stack([torch.stack(self._loss_parts[k]).float().nanmean().to(device) for k in keys])
        if self.args.world_size > 1:
            local = self.accelerator.gather(local[None]).nanmean(dim=0)
        return {k: round(v, 4) for k, v in zip(keys, local.tolist(), strict=True) if v == v}

    def create_optimizer(self, model=None):
        opt_model = self.model if model is None else model
        llrd = getattr(self.args, "layerwise_lr_decay", None)
        pending = getattr(self.strategy, "pending_parameters", None)
        if self.optimizer is not None or (not llrd and pending is None):
            return super().create_optimizer(model)
        waiting = {id(p) for p in pending()} if pending else set()
        names = {n for n, p in opt_model.named_parameters() if p.requires_grad or id(p) in waiting}
        groups = parameter_groups(
            opt_model,
            names,
            learning_rate=self.args.learning_rate,
            weight_decay=self.args.weight_decay,
            decay_names=set(self.get_decay_parameter_names(opt_model)),
            layerwise_lr_decay=llrd,
        )
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        optimizer_kwargs.pop("lr", None)  # each group carries its own
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        logger.info("Optimizer groups (depth: lr): %s", {g["depth"]: g["lr"] for g in groups})
        return self.optimizer

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        super()._save(output_dir, state_dict)
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if self.args.should_save:
            pickled = os.path.join(output_dir, TRAINING_ARGS_NAME)
            if os.path.exists(pickled):
                os.remove(pickled)
            with open(os.path.join(output_dir, TRAINING_ARGS_JSON), "w", encoding="utf-8") as f:
                f.write(self.args.to_json_string())
