"""A run up to the Trainer: checkpoint, processor, the objective's data and model, the strategy applied.

Example::

    >>> run = prepare_run(parse_recipe("sentiment/minilm_full"))      # what `hf-transfer inspect --recipe` shows
    >>> run.objective.name, run.parameters["trainable_percent"]
    ('single_task', 100.0)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from peft import PeftModel
from torch import nn
from transformers import AutoConfig, set_seed

from ..config import Recipe
from ..data import data_collator, is_image_processor
from ..data.text import check_max_length
from ..errors import StrategyError
from ..modeling import ResolvedCheckpoint, count_parameters, load_processor, resolve_checkpoint
from ..modeling.batchnorm import keep_frozen_batchnorm_in_eval, reset_batchnorm_momentum
from ..objectives import Objective, build_objective
from ..offline import go_offline_if_unreachable
from ..strategies import StrategyContext, TransferStrategy, build_strategy

logger = logging.getLogger(__name__)


@dataclass
class PreparedRun:
    """Everything a run needs before training: the objective (with its data), checkpoint, tokenizer or image
    processor, strategy, and the strategy's model."""

    recipe: Recipe
    objective: Objective
    checkpoint: ResolvedCheckpoint
    processor: Any
    strategy: TransferStrategy
    model: nn.Module

    @property
    def encoded(self):
        return self.objective.data.encoded

    @property
    def labels(self):
        return self.objective.data.labels

    @property
    def parameters(self) -> dict[str, float]:
        trainable, total = count_parameters(self.model)
        return {"trainable": trainable, "total": total, "trainable_percent": 100 * trainable / total}


def num_training_steps(args, train_rows: int) -> int:
    """Optimizer steps the Trainer will take (as it computes them), for strategies that schedule by step."""
    if args.max_steps and args.max_steps > 0:
        return args.max_steps
    batches = math.ceil(train_rows / (args.per_device_train_batch_size * max(1, args.world_size)))
    return max(1, math.ceil(batches / args.gradient_accumulation_steps) * math.ceil(args.num_train_epochs))


def load_checkpoint(recipe: Recipe) -> tuple[ResolvedCheckpoint, Any]:
    """The checkpoint and its processor; a text run's ``max_length`` is checked against the checkpoint here,
    before any data loads."""
    model_args = recipe.model
    checkpoint = resolve_checkpoint(
        model_args.model_name_or_path, model_args.revision, model_args.cache_dir, model_args.trust_remote_code
    )
    processor = load_processor(checkpoint, model_args.tokenizer_name, model_args.revision)
    if not is_image_processor(processor):
        config = AutoConfig.from_pretrained(
            checkpoint.path, revision=model_args.revision, trust_remote_code=model_args.trust_remote_code
        )
        check_max_length(recipe.data.max_length, processor, config)
    return checkpoint, processor


def prepare_run(recipe: Recipe) -> PreparedRun:
    """Load checkpoint and data, build the objective's model and apply the strategy: a run up to the Trainer
    (or a dry run)."""
    args = recipe.training
    set_seed(args.seed)
    go_offline_if_unreachable()
    checkpoint, processor = load_checkpoint(recipe)
    strategy = build_strategy(recipe.strategy.strategy_config)
    objective = build_objective(recipe)
    data = objective.load_data(processor)
    model = objective.build_model(checkpoint, strategy.default_pooling)
    train = data.encoded["train"]
    context = StrategyContext(
        train_dataset=train.remove_columns([c for c in ("data_source",) if c in train.column_names]),
        data_collator=data_collator(processor),
        num_training_steps=num_training_steps(args, len(train)),
        seed=args.seed,
        world_size=max(1, args.world_size),
    )
    reset_batchnorm_momentum(model)
    model = strategy.apply(model, context)
    keep_frozen_batchnorm_in_eval(model)
    if isinstance(model, PeftModel):  # record the id the user gave, resolvable online and offline
        for peft_config in model.peft_config.values():
            peft_config.base_model_name_or_path = checkpoint.requested
    run = PreparedRun(recipe, objective, checkpoint, processor, strategy, model)
    if run.parameters["trainable"] == 0:
        raise StrategyError(
            f"Strategy {strategy.config.type!r} left no parameter trainable; check its options."
        )
    logger.info(
        "Model %s (%s): %s parameters, %s trainable (%.2f%%) with strategy %r, objective %s",
        checkpoint.requested,
        checkpoint.source,
        f"{run.parameters['total']:,}",
        f"{run.parameters['trainable']:,}",
        run.parameters["trainable_percent"],
        strategy.config.type,
        " over ".join(o.name for o in objective.chain),
    )
    return run
