"""The end-to-end run: recipe → data → checkpoint → strategy → ``Trainer`` → metrics → saved results.

Example::

    >>> import hf_transfer
    >>> result = hf_transfer.train("configs/sentiment/minilm_full.yaml", overrides=["--num_train_epochs", "1"])
    >>> result.metrics["test"]["accuracy"]
    0.84...
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from datasets import DatasetDict
from peft import PeftModel
from torch import nn
from transformers import AutoConfig, TrainingArguments, default_data_collator, set_seed

from ..adaptation.domain_gap import plot_domains, proxy_a_distance
from ..adaptation.training import DomainPlan, measure_features, plan_domain_adaptation
from ..config import DataArguments, Recipe, load_recipe_file, parse_recipe
from ..data import (
    check_columns,
    check_known_labels,
    data_collator,
    encode_splits,
    input_columns,
    is_image_processor,
    label_names,
    load_raw_datasets,
)
from ..data.images import without_augmentation
from ..data.text import check_max_length
from ..errors import DataError, StrategyError
from ..hub import render_output_card, trainable_groups
from ..metrics import MetricSuite
from ..modeling import (
    ResolvedCheckpoint,
    count_parameters,
    load_classifier,
    load_multitask_model,
    load_processor,
    load_trained_classifier,
    resolve_checkpoint,
)
from ..modeling.batchnorm import keep_frozen_batchnorm_in_eval, reset_batchnorm_momentum
from ..multitask import MultiTaskData, MultiTaskMetrics, TaskBatchSampler, build_multitask_data
from ..offline import go_offline_if_unreachable
from ..publish import push_to_hub, take_over_push
from ..strategies import StrategyContext, TransferStrategy, build_strategy
from ..wrappers.domain_adversarial import DomainAdversarialModel
from .features import cache_features
from .outputs import (
    GAP_PLOT,
    MERGED_DIR,
    METRICS_FILE,
    MODEL_CARD_FILE,
    PREDICTIONS_FILE,
    RECIPE_FILE,
    check_output_dir,
    claim_output_dir,
    resolve_resume,
    write_multitask_predictions,
    write_predictions,
)
from .report import write_run_report
from .trainer import TRAINING_ARGS_JSON, TransferTrainer

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run produced: where it was saved, its metrics per split, and the trainer (for further use)."""

    output_dir: Path
    metrics: dict[str, Any]
    trainer: TransferTrainer


def _strip_prefix(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {k[len(prefix) + 1 :] if k.startswith(prefix + "_") else k: v for k, v in metrics.items()}


@dataclass
class PreparedRun:
    """Everything a run needs before training: data, labels, checkpoint, tokenizer or image processor, and the
    strategy's model."""

    recipe: Recipe
    raw: DatasetDict
    labels: list[str]
    checkpoint: ResolvedCheckpoint
    processor: Any
    encoded: DatasetDict
    strategy: TransferStrategy
    model: nn.Module
    multitask: MultiTaskData | None = None

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


def _load_multitask(recipe: Recipe, checkpoint, processor, seed: int) -> tuple[MultiTaskData, nn.Module]:
    model_args, args = recipe.model, recipe.training
    with args.main_process_first(desc="tokenising"):
        data = build_multitask_data(recipe, processor, seed=seed)
    model = load_multitask_model(
        checkpoint,
        data.tasks,
        pooling=model_args.pooling or "auto",
        loss_weighting=recipe.multitask.multitask_config.loss_weighting,
        revision=model_args.revision,
        cache_dir=model_args.cache_dir,
        trust_remote_code=model_args.trust_remote_code,
    )
    return data, model


def prepare_run(recipe: Recipe) -> PreparedRun:
    """Load data and checkpoint, tokenise (or set the image transforms), and apply the strategy: a run up to the
    Trainer (or a dry run)."""
    data_args, model_args, args = recipe.data, recipe.model, recipe.training
    set_seed(args.seed)
    go_offline_if_unreachable()
    checkpoint = resolve_checkpoint(
        model_args.model_name_or_path, model_args.revision, model_args.cache_dir, model_args.trust_remote_code
    )
    processor = load_processor(checkpoint, model_args.tokenizer_name, model_args.revision)
    if not is_image_processor(processor):  # before any data loads
        config = AutoConfig.from_pretrained(
            checkpoint.path, revision=model_args.revision, trust_remote_code=model_args.trust_remote_code
        )
        check_max_length(data_args.max_length, processor, config)
    strategy = build_strategy(recipe.strategy.strategy_config)
    data_seed = args.data_seed if args.data_seed is not None else args.seed
    multitask = None
    if recipe.multitask.multitask_config is not None:
        multitask, model = _load_multitask(recipe, checkpoint, processor, data_seed)
        raw, encoded = next(iter(multitask.raw.values())), multitask.encoded
        names = [task["name"] for task in multitask.tasks]
    else:
        raw = load_raw_datasets(data_args, seed=data_seed, label_column=data_args.label_column)
        check_columns(raw, input_columns(data_args, processor))
        names = label_names(raw, data_args.label_column)
        model = load_classifier(
            checkpoint,
            id2label=dict(enumerate(names)),
            revision=model_args.revision,
            cache_dir=model_args.cache_dir,
            trust_remote_code=model_args.trust_remote_code,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
            pooling=model_args.pooling or strategy.default_pooling,
        )
        with args.main_process_first(desc="tokenising"):
            encoded = encode_splits(raw, data_args, processor, names)
    context = StrategyContext(
        train_dataset=encoded["train"].remove_columns(
            [c for c in ("data_source",) if c in encoded["train"].column_names]
        ),
        data_collator=data_collator(processor),
        num_training_steps=num_training_steps(args, len(encoded["train"])),
        seed=args.seed,
        world_size=max(1, args.world_size),
    )
    reset_batchnorm_momentum(model)
    model = strategy.apply(model, context)
    keep_frozen_batchnorm_in_eval(model)
    if isinstance(model, PeftModel):  # record the id the user gave, resolvable online and offline
        for peft_config in model.peft_config.values():
            peft_config.base_model_name_or_path = checkpoint.requested
    run = PreparedRun(recipe, raw, names, checkpoint, processor, encoded, strategy, model, multitask)
    if run.parameters["trainable"] == 0:
        raise StrategyError(
            f"Strategy {strategy.config.type!r} left no parameter trainable; check its options."
        )
    logger.info(
        "Model %s (%s): %s parameters, %s trainable (%.2f%%) with strategy %r",
        checkpoint.requested,
        checkpoint.source,
        f"{run.parameters['total']:,}",
        f"{run.parameters['trainable']:,}",
        run.parameters["trainable_percent"],
        strategy.config.type,
    )
    return run


def exported_model(trainer: TransferTrainer) -> nn.Module:
    """The model to export: the trained model, without a domain-adaptation wrapper's discriminator."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    return model.task_model if isinstance(model, DomainAdversarialModel) else model


def save_trained_model(trainer: TransferTrainer, run: PreparedRun, output_dir: Path) -> None:
    """Save the model: a stock checkpoint, or an adapter folder (plus its task config, and merged if asked).

    A domain-adaptation wrapper is dropped: its task model is saved, loadable without hf_transfer.
    """
    model = exported_model(trainer)
    if model is trainer.accelerator.unwrap_model(trainer.model):
        trainer.save_model(str(output_dir))
    elif trainer.args.should_save:
        model.save_pretrained(output_dir)
        run.processor.save_pretrained(output_dir)
        (output_dir / TRAINING_ARGS_JSON).write_text(trainer.args.to_json_string())
    if isinstance(model, PeftModel) and trainer.args.should_save:
        model.get_base_model().config.save_pretrained(output_dir)  # labels, for hf_transfer's own loading
        if getattr(run.strategy.config, "merge", False):
            merged = copy.deepcopy(model).merge_and_unload()
            merged.save_pretrained(output_dir / MERGED_DIR)
            run.processor.save_pretrained(output_dir / MERGED_DIR)


def finish_domain_adaptation(
    domain: DomainPlan, trainer: TransferTrainer, run: PreparedRun, out: Path
) -> dict:
    """The domain gap after training (and its picture beside the model), with the run's adaptation report."""
    report = {"config": domain.config.to_dict(), **domain.report}
    if domain.features_before is not None:
        after = measure_features(domain, run.processor, trainer.args.per_device_eval_batch_size)
        report["proxy_a_distance_after"] = proxy_a_distance(*after, seed=trainer.args.seed)
        if trainer.args.should_save:
            plot_domains(
                {"before adaptation": domain.features_before, "after adaptation": after}, out / GAP_PLOT
            )
            report["plot"] = GAP_PLOT
        logger.info(
            "Proxy A-distance: %.3f before, %.3f after adaptation",
            report["proxy_a_distance_before"],
            report["proxy_a_distance_after"],
        )
    return report


def train(
    recipe: str | Path | dict[str, Any] | Recipe | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> TrainResult:
    """Run a recipe end to end and save the model, its processor, recipe, metrics and test predictions.

    ``recipe`` is a YAML path, a shipped recipe name (``sentiment/minilm_full``, the default), a dict or a parsed
    :class:`~hf_transfer.config.Recipe`; ``overrides`` win over it (``["--learning_rate", "1e-4"]``).
    """
    if not isinstance(recipe, Recipe):
        recipe = parse_recipe(recipe, overrides)
    args = recipe.training
    check_output_dir(recipe)  # refusals first, before anything loads
    push = take_over_push(args)  # one push after saving (repo id and token checked now); never the Trainer's
    resume = resolve_resume(args)
    run = prepare_run(recipe)
    encoded, names = run.encoded, run.labels
    collator = data_collator(run.processor)
    extra: dict[str, Any] = {}
    if is_image_processor(run.processor) and args.train_sampling_strategy == "group_by_length":
        args.train_sampling_strategy = "random"  # images have no length to group by
    if getattr(run.strategy.config, "cache_features", False):  # single task only (checked at parse time)
        shared_cache = run.strategy.config.feature_cache_dir is not None
        # with a cache folder, the main process extracts and writes first; the others then read its files
        with args.main_process_first(desc="feature extraction") if shared_cache else contextlib.nullcontext():
            encoded, seconds = cache_features(
                run.model,
                DatasetDict({split: without_augmentation(dataset) for split, dataset in encoded.items()}),
                collator,
                batch_size=args.per_device_eval_batch_size,
                device=args.device,
                cache_dir=run.strategy.config.feature_cache_dir,
                dtype=run.strategy.config.extraction_dtype,
                processor=run.processor,
                max_length=recipe.data.max_length,
            )
        collator = default_data_collator
        # Rows are now fixed-size feature vectors: nothing to group by length.
        args.train_sampling_strategy = "random"
        extra["feature_cache"] = {
            "extraction_seconds": seconds,
            "feature_size": int(encoded["train"][0]["features"].shape[-1]),
        }

    model, train_dataset, sampler, callbacks = run.model, encoded["train"], None, run.strategy.callbacks()
    domain = None
    if recipe.adaptation.adaptation_config is not None:
        domain = plan_domain_adaptation(run, recipe)
        model, train_dataset, sampler = domain.model, domain.train_dataset, domain.sampler
        callbacks = callbacks + domain.callbacks
    compute_metrics = MetricSuite(args.metrics, num_labels=len(names))
    if run.multitask is not None:
        settings = recipe.multitask.multitask_config
        compute_metrics = MultiTaskMetrics(run.multitask.tasks, {t.name: t.metrics for t in settings.tasks})
        if settings.homogeneous:
            sampler = TaskBatchSampler(
                run.multitask.source_rows,
                args.per_device_train_batch_size,
                settings.sampling,
                settings.temperature,
                args.seed,
            )
        extra["multitask"] = {
            "tasks": run.multitask.tasks,
            "batching": "homogeneous" if settings.homogeneous else "mixed",
            "sampling": settings.sampling if settings.homogeneous else None,
            "source_rows": dict(zip(run.multitask.raw, run.multitask.source_rows, strict=True)),
            **({"source_probabilities": sampler.probabilities} if settings.homogeneous else {}),
        }

    claim_output_dir(
        recipe
    )  # the folder, once every input (target data too) has loaded: bad input writes nothing
    trainer = TransferTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=encoded["validation"],
        processing_class=run.processor,
        data_collator=collator,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        strategy=run.strategy,
        train_sampler=sampler,
    )
    train_output = trainer.train(resume_from_checkpoint=resume)
    out = Path(args.output_dir)
    save_trained_model(trainer, run, out)
    trainer.save_state()

    results: dict[str, Any] = {
        "recipe": recipe.name,
        "model": run.checkpoint.requested,
        "model_source": run.checkpoint.source,
        "strategy": recipe.strategy.strategy_config.to_dict(),
        "labels": names if run.multitask is None else {t["name"]: t["labels"] for t in run.multitask.tasks},
        "parameters": run.parameters,
        "processes": args.world_size,
        "rows": {split: len(dataset) for split, dataset in encoded.items()},
        "train": train_output.metrics,
        **extra,
        **({"strategy_report": run.strategy.report()} if run.strategy.report() else {}),
        "validation": _strip_prefix(
            trainer.evaluate(encoded["validation"], metric_key_prefix="eval"), "eval"
        ),
    }
    if domain is not None:
        results["domain_adaptation"] = finish_domain_adaptation(domain, trainer, run, out)
        if "test" in domain.target_eval:
            target = trainer.evaluate(domain.target_eval["test"], metric_key_prefix="target_test")
            results["target_test"] = _strip_prefix(target, "target_test")
    test_logits = None
    if "test" in encoded:
        prediction = trainer.predict(encoded["test"], metric_key_prefix="test")
        results["test"] = _strip_prefix(prediction.metrics, "test")
        test_logits = (
            prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        )

    if args.should_save:
        recipe.save(out / RECIPE_FILE)
        groups = trainable_groups(exported_model(trainer))
        if groups:
            results["trainable_groups"] = groups
        (out / METRICS_FILE).write_text(json.dumps(results, indent=2, default=str) + "\n")
        if args.save_predictions and test_logits is not None:
            if run.multitask is not None:
                write_multitask_predictions(out / PREDICTIONS_FILE, run.multitask, test_logits)
            else:
                write_predictions(out / PREDICTIONS_FILE, run.raw["test"], test_logits, names, recipe.data)
        card = render_output_card(out)  # from the saved files, as `hf-transfer push` renders it again
        card.save(out / MODEL_CARD_FILE)
        write_run_report(out)  # plots beside the metrics; never raises
    logger.info("Saved model, processor, recipe, metrics, model card and predictions to %s", out)
    if push is not None and trainer.is_world_process_zero():
        push_to_hub(out, **push)  # a failure raises PushError after everything is saved, saying how to retry
    return TrainResult(output_dir=out, metrics=results, trainer=trainer)


def evaluate(
    model_dir: str | Path,
    split: str = "test",
    data_overrides: dict[str, Any] | None = None,
    metrics: list[str] | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Evaluate a saved model on a split of its recipe's dataset (or of the dataset given in ``data_overrides``)."""
    model_dir = Path(model_dir)
    checkpoint = resolve_checkpoint(str(model_dir))
    saved = load_recipe_file(model_dir / RECIPE_FILE) if (model_dir / RECIPE_FILE).is_file() else {}
    data_keys = {f.name for f in fields(DataArguments)}
    data_values = {k: v for k, v in saved.items() if k in data_keys}
    data_values.update(data_overrides or {})
    data_args = DataArguments(**data_values)
    metric_names = metrics or saved.get("metrics") or ["accuracy", "f1"]

    go_offline_if_unreachable()
    if saved.get("multitask"):
        return _evaluate_multitask(model_dir, checkpoint, saved, split, data_values, metrics, batch_size)
    raw = load_raw_datasets(data_args, seed=saved.get("seed", 42), label_column=data_args.label_column)
    if split not in raw:
        raise DataError(f"The dataset has no {split!r} split; its splits are: {', '.join(raw)}.")
    raw = DatasetDict({split: raw[split]})
    processor = load_processor(checkpoint)
    check_columns(raw, input_columns(data_args, processor))
    model = load_trained_classifier(checkpoint.path)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    check_known_labels(raw, data_args.label_column, names, known_from="the model's labels")
    encoded = encode_splits(raw, data_args, processor, names)
    metric_suite = MetricSuite(metric_names, num_labels=len(names))
    return _evaluate_split(model, processor, encoded[split], metric_suite, split, batch_size)


def _evaluate_split(
    model, processor, dataset, compute_metrics, split: str, batch_size: int
) -> dict[str, float]:
    """Evaluate a loaded model on one encoded split with a throw-away ``Trainer``: ``{metric: value}``."""
    with tempfile.TemporaryDirectory() as tmp:
        eval_args = TrainingArguments(
            output_dir=tmp,
            per_device_eval_batch_size=batch_size,
            report_to=[],
            dataloader_pin_memory=torch.cuda.is_available(),
        )
        trainer = TransferTrainer(
            model=model,
            args=eval_args,
            processing_class=processor,
            data_collator=data_collator(processor),
            compute_metrics=compute_metrics,
        )
        return _strip_prefix(trainer.evaluate(dataset, metric_key_prefix=split), split)


def _evaluate_multitask(
    model_dir, checkpoint, saved, split, data_values, metrics, batch_size
) -> dict[str, float]:
    """A saved multi-task model on a split of its recipe's data: every task's metrics, their means."""
    from ..multitask import MultiTaskSettings

    settings = MultiTaskSettings.from_spec(saved["multitask"])
    if metrics:
        for task in settings.tasks:
            task.metrics = list(metrics)
    recipe = parse_recipe(
        {**data_values, "model_name_or_path": str(model_dir), "multitask": saved["multitask"]}
    )
    processor = load_processor(checkpoint)
    model = load_trained_classifier(checkpoint.path)
    data = build_multitask_data(recipe, processor, settings=settings, seed=saved.get("seed", 42))
    trained = {t["name"]: t["labels"] for t in model.config.tasks}
    found = {t["name"]: t["labels"] for t in data.tasks}
    if found != trained:
        raise DataError(
            f"The data's task labels {found} differ from the model's {trained}: evaluate on data with the same "
            "labels per task."
        )
    if split not in data.encoded:
        raise DataError(f"The data has no {split!r} split; its splits are: {', '.join(data.encoded)}.")
    metric_suite = MultiTaskMetrics(data.tasks, {t.name: t.metrics for t in settings.tasks})
    return _evaluate_split(model, processor, data.encoded[split], metric_suite, split, batch_size)
