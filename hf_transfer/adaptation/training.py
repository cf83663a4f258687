"""Turning a prepared run into a domain-adaptation run: target data, the wrapper, the batch mix, the gap.

Example::

    >>> plan = plan_domain_adaptation(run, recipe)     # run = hf_transfer.training.pipeline.prepare_run(recipe)
    >>> plan.model.config.alignment, len(plan.train_dataset), plan.target_eval.keys()
    ('dann', 12090, dict_keys(['test']))
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from ..config import DataArguments, Recipe
from ..data import (
    check_columns,
    check_known_labels,
    data_collator,
    encode_splits,
    input_column,
    input_role,
    load_raw_datasets,
)
from ..errors import DataError
from ..wrappers.domain_adversarial import DomainAdversarialModel
from .callbacks import LambdaScheduleCallback
from .config import AdaptationConfig
from .data import DomainMixSampler, mix_domains
from .domain_gap import head_features, proxy_a_distance

logger = logging.getLogger(__name__)


@dataclass
class DomainPlan:
    """What the Trainer needs for a domain-adaptation run, and what to measure after it."""

    config: AdaptationConfig
    model: DomainAdversarialModel
    train_dataset: Dataset
    sampler: DomainMixSampler
    callbacks: list
    target_eval: DatasetDict
    gap_rows: tuple[Dataset, Dataset]
    report: dict[str, Any] = field(default_factory=dict)
    features_before: tuple[np.ndarray, np.ndarray] | None = None


def target_data_arguments(recipe: Recipe) -> DataArguments:
    """The source's data arguments, pointed at the target domain."""
    source, target = recipe.data, recipe.adaptation
    return dataclasses.replace(
        source,
        dataset_name=target.target_dataset_name,
        dataset_config_name=target.target_dataset_config_name,
        train_file=target.target_train_file,
        validation_file=None,
        test_file=target.target_test_file,
        text_column=target.target_text_column or source.text_column,
        label_column=target.target_label_column or source.label_column,
        max_train_samples=None,
        degrade=target.target_degrade,
        degrade_severity=target.target_degrade_severity,
    )


def load_target(
    recipe: Recipe, source_labels: list[str], seed: int, processor=None
) -> tuple[DatasetDict, DataArguments, bool]:
    """The target's raw splits, their data arguments, and whether they carry labels (for evaluation only)."""
    target_args = target_data_arguments(recipe)
    raw = load_raw_datasets(target_args, seed=seed)  # empty splits and missing files are DataErrors here
    role = input_role(processor)
    if role == "text_column":
        role = "target_text_column"  # the recipe key that sets the target's text column
    check_columns(raw, {role: input_column(target_args, processor)})
    labelled = all(target_args.label_column in split.column_names for split in raw.values())
    if labelled:
        check_known_labels(raw, target_args.label_column, source_labels, known_from="the source's labels")
    return raw, target_args, labelled


def sample_rows(dataset: Dataset, limit: int, seed: int) -> Dataset:
    return dataset.shuffle(seed=seed).select(range(min(limit, len(dataset))))


def plan_domain_adaptation(run, recipe: Recipe) -> DomainPlan:
    """Load the target, wrap the strategy's model, mix the domains and measure the gap before training."""
    config: AdaptationConfig = recipe.adaptation.adaptation_config
    args = recipe.training
    raw, target_args, labelled = load_target(recipe, run.labels, seed=args.seed, processor=run.processor)
    if len(raw["train"]) < 2:
        raise DataError("The target domain's train split needs at least 2 rows to align domains.")
    target_train = encode_splits(DatasetDict({"train": raw["train"]}), target_args, run.processor, None)[
        "train"
    ]
    eval_splits = (
        DatasetDict({k: v for k, v in raw.items() if k in ("test", "validation")}) if labelled else None
    )
    target_eval = (
        encode_splits(eval_splits, target_args, run.processor, run.labels) if eval_splits else DatasetDict()
    )
    if "test" in target_eval and "validation" in target_eval:
        target_eval = DatasetDict({"test": target_eval["test"]})

    model = DomainAdversarialModel.wrap(
        run.model,
        alignment=config.type,
        domain_loss_weight=config.domain_loss_weight,
        discriminator_layers=config.discriminator_layers,
        discriminator_hidden=config.discriminator_hidden,
        discriminator_dropout=config.discriminator_dropout,
    )
    source_train = run.encoded["train"]
    mixed = mix_domains(source_train, target_train)
    sampler = DomainMixSampler(
        len(source_train),
        len(target_train),
        args.per_device_train_batch_size,
        config.source_fraction,
        args.seed,
    )
    source_gap = run.encoded.get("test", run.encoded["validation"])
    target_gap = target_eval.get("test", target_train)
    plan = DomainPlan(
        config=config,
        model=model,
        train_dataset=mixed,
        sampler=sampler,
        callbacks=[LambdaScheduleCallback(config)],
        target_eval=target_eval,
        gap_rows=(
            sample_rows(source_gap, config.domain_gap_samples, args.seed),
            sample_rows(target_gap, config.domain_gap_samples, args.seed),
        ),
    )
    plan.report["target_rows"] = {"train": len(target_train), **{k: len(v) for k, v in target_eval.items()}}
    if config.measure_domain_gap:
        plan.features_before = measure_features(plan, run.processor, args.per_device_eval_batch_size)
        plan.report["proxy_a_distance_before"] = proxy_a_distance(*plan.features_before, seed=args.seed)
        logger.info("Proxy A-distance before adaptation: %.3f", plan.report["proxy_a_distance_before"])
    return plan


def measure_features(plan: DomainPlan, processor, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    collator = data_collator(processor)
    source, target = plan.gap_rows
    task_model = plan.model.task_model
    return head_features(task_model, source, collator, batch_size), head_features(
        task_model, target, collator, batch_size
    )
