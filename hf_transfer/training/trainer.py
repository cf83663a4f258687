"""``TransferTrainer``: ``transformers.Trainer`` with strategy-aware optimizer groups and pickle-free saving."""

from __future__ import annotations

import logging
import os

from transformers import Trainer
from transformers.trainer import TRAINING_ARGS_NAME

from ..strategies.schedules import parameter_groups

logger = logging.getLogger(__name__)
TRAINING_ARGS_JSON = "training_args.json"


class TransferTrainer(Trainer):
    """A ``Trainer`` that knows the transfer strategy.

    - The optimizer holds every parameter the strategy will ever train (gradual unfreezing adds parameters
      mid-run), in one group per block when ``layerwise_lr_decay`` is set.
    - Saved folders hold the arguments as JSON, not a pickled ``training_args.bin``.

    Everything else is the stock ``Trainer``: devices, precision and distribution come from accelerate.
    """

    def __init__(self, *args, strategy=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.strategy = strategy

    def create_optimizer(self, model=None):
        opt_model = self.model if model is None else model
        llrd = getattr(self.args, "layerwise_lr_decay", None)
        names_for = getattr(self.strategy, "optimizer_parameter_names", None)
        if self.optimizer is not None or (not llrd and names_for is None):
            return super().create_optimizer(model)
        names = (
            names_for(opt_model)
            if names_for
            else {n for n, p in opt_model.named_parameters() if p.requires_grad}
        )
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
