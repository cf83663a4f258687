"""The ``train`` stage kind: what a recipe does — one straight path, the same for every objective and strategy.

objective data → checkpoint → strategy → (strategy's data path) → objective wrap → ``TransferTrainer`` →
objective adjust → save (the objective's export) → objective finish → ``metrics.json`` and predictions.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path
from typing import Any

from peft import PeftModel
from transformers import EarlyStoppingCallback

from ..data import data_collator, is_image_processor
from ..metrics import strip_prefix
from ..modeling.blocks import trainable_groups
from ..objectives import TrainerInputs
from ..run_files import (
    MERGED_DIR,
    METRICS_FILE,
    METRICS_FORMAT_VERSION,
    PREDICTIONS_FILE,
    RECIPE_FILE,
    TRAINING_ARGS_JSON,
)
from ..strategies import TrainingData
from ..training.outputs import resolve_resume
from ..training.prepare import PreparedRun, prepare_run
from ..training.trainer import TransferTrainer
from .base import StageContext, StageKind, StageResult, register_stage_kind

logger = logging.getLogger(__name__)


def save_trained_model(trainer: TransferTrainer, run: PreparedRun, output_dir: Path) -> None:
    """Save the objective's export: a stock checkpoint, or an adapter folder (plus its task config, and merged if
    asked). A wrapper (domain adaptation) is dropped: its task model is saved, loadable without hf_transfer."""
    trained = trainer.accelerator.unwrap_model(trainer.model)
    model = run.objective.exported_model(trained)
    if model is trained:
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


def distributed_type(trainer) -> str:
    """accelerate's distributed type for this run (``NO``, ``MULTI_CPU``, ``MULTI_GPU``, ``FSDP``, …), with a warning
    when an accelerate config asked for FSDP and accelerate does not apply it (on CPU-only machines accelerate
    runs FSDP configs as DDP over gloo: it shards only on GPU-like devices)."""
    kind = trainer.accelerator.distributed_type.name
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true" and kind != "FSDP":
        logger.warning(
            "The accelerate config asks for FSDP, but accelerate runs this job as %s: it applies FSDP only on GPU-like "
            "devices, so on this CPU-only machine the %d processes train data-parallel (DDP over gloo), unsharded; "
            "the saved model is the same full model.",
            kind,
            trainer.args.world_size,
        )
    return kind


def precision_report(trainer) -> dict[str, str]:
    """The precision the run trained in (accelerate's ``mixed_precision``: ``no``, ``bf16``, ``fp16``) and the rule
    that chose it (``bf16`` unset resolves by :mod:`hf_transfer.config.precision`); logged once."""
    rule = getattr(trainer.args, "precision_rule", "")
    report = {"mixed_precision": str(trainer.accelerator.mixed_precision), "rule": rule}
    logger.info("Precision: %s (%s)", report["mixed_precision"], rule)
    return report


class EarlyStopping(EarlyStoppingCallback):
    """transformers' EarlyStoppingCallback, deaf to the evaluations that lack its metric: with named evaluation
    sets (``eval_files``) the Trainer evaluates each set apart, and only one holds ``metric_for_best_model``."""

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        name = args.metric_for_best_model
        if (name if name.startswith("eval_") else f"eval_{name}") in metrics:
            super().on_evaluate(args, state, control, metrics, **kwargs)


def early_stopping(args) -> list:
    """Early stopping when the recipe asks for it."""
    if args.early_stopping_patience is None:
        return []
    return [EarlyStopping(args.early_stopping_patience, args.early_stopping_threshold)]


def early_stopping_report(args, trainer: TransferTrainer) -> dict[str, Any]:
    """Where early stopping stopped, and the best evaluation it kept."""
    if args.early_stopping_patience is None:
        return {}
    state = trainer.state
    return {
        "early_stopping": {
            "patience": args.early_stopping_patience,
            "metric": args.metric_for_best_model,
            "stopped_at_step": state.global_step,
            "planned_steps": state.max_steps,
            "stopped_early": state.global_step < state.max_steps,
            "best_metric": state.best_metric,
            "best_checkpoint": Path(state.best_model_checkpoint).name if state.best_model_checkpoint else None,
        }
    }


def training_inputs(run: PreparedRun) -> tuple[TrainerInputs, TrainingData]:
    """The strategy's data path (cached features) and the objective's inputs (wrapper, target data, sampler)."""
    args = run.recipe.training
    data = run.strategy.training_data(
        run.model,
        TrainingData(run.encoded, data_collator(run.processor)),
        args,
        run.processor,
        run.recipe.data.max_length,
    )
    run.objective.data.encoded = data.splits
    no_lengths = not data.group_by_length or is_image_processor(run.processor)  # images, fixed-size features
    if no_lengths and args.train_sampling_strategy == "group_by_length":
        args.train_sampling_strategy = "random"
    return run.objective.trainer_inputs(run.model, run.processor), data


def build_trainer(run: PreparedRun, inputs: TrainerInputs, data: TrainingData, model_init=None) -> TransferTrainer:
    """The run's Trainer; with ``model_init`` (a hyper-parameter search) it builds each trial's model."""
    args = run.recipe.training
    return TransferTrainer(
        model=None if model_init else inputs.model,
        model_init=model_init,
        args=args,
        train_dataset=inputs.train_dataset,
        eval_dataset=inputs.eval_dataset,
        processing_class=run.processor,
        data_collator=inputs.wrap_collator(data.collator) if inputs.wrap_collator else data.collator,
        compute_metrics=inputs.compute_metrics,
        callbacks=[*run.strategy.callbacks(), *inputs.callbacks, *early_stopping(args)],
        strategy=run.strategy,
        train_sampler=inputs.sampler,
        task_loss=inputs.task_loss,
    )


@register_stage_kind("train")
class TrainStage(StageKind):
    """Train the recipe's objective with its strategy (what a recipe without `stages:` does)."""

    def prepare(self, run: PreparedRun) -> None:
        """Adjust the prepared run before its data path is built (a self-training round sets its pseudo-labeller)."""

    def run(self, recipe, context: StageContext) -> StageResult:
        args = recipe.training
        resume = resolve_resume(args)
        run = prepare_run(recipe)
        self.prepare(run)
        objective = run.objective
        inputs, data = training_inputs(run)
        encoded = run.encoded
        out = context.claim(recipe)  # the folder, once every input has loaded: bad input writes nothing
        trainer = build_trainer(run, inputs, data)
        parallelism = distributed_type(trainer)
        train_output = trainer.train(resume_from_checkpoint=resume)
        objective.adjust(trainer, run.processor)
        save_trained_model(trainer, run, out)
        trainer.save_state()

        chain = [o.name for o in objective.chain]
        strategy_report = run.strategy.report()
        results: dict[str, Any] = {
            "format_version": METRICS_FORMAT_VERSION,
            "objective": chain[0],
            "objectives": chain,
            "recipe": recipe.name,
            "model": run.checkpoint.requested,
            "model_source": run.checkpoint.source,
            "strategy": recipe.strategy.strategy_config.to_dict(),
            "parameters": run.parameters,
            "processes": args.world_size,
            "distributed_type": parallelism,
            "precision": precision_report(trainer),
            "rows": {split: len(dataset) for split, dataset in encoded.items()},
            "train": train_output.metrics,
            **data.report,
            **objective.record(),
            **early_stopping_report(args, trainer),
            **({"strategy_report": strategy_report} if strategy_report else {}),
            "validation": strip_prefix(
                trainer.evaluate(encoded["validation"], metric_key_prefix="eval"), "eval"
            ),
        }
        eval_sets = {
            name: strip_prefix(trainer.evaluate(encoded[name], metric_key_prefix=f"eval_{name}"), f"eval_{name}")
            for name in (objective.data.eval_sets if objective.data else [])
        }
        if eval_sets:
            results["eval_sets"] = eval_sets
        results.update(objective.finish(trainer, run.processor, out))
        test_logits = None
        if "test" in encoded:
            prediction = trainer.predict(encoded["test"], metric_key_prefix="test")
            results["test"] = strip_prefix(prediction.metrics, "test")
            predictions = prediction.predictions
            test_logits = predictions[0] if isinstance(predictions, tuple) else predictions
        if args.should_save:
            recipe.save(out / RECIPE_FILE)
            groups = trainable_groups(
                objective.exported_model(trainer.accelerator.unwrap_model(trainer.model))
            )
            if groups:
                results["trainable_groups"] = groups
            (out / METRICS_FILE).write_text(json.dumps(results, indent=2, default=str) + "\n")
            if args.save_predictions and test_logits is not None:
                objective.write_predictions(out / PREDICTIONS_FILE, test_logits)
        return StageResult(output_dir=out, metrics=results, trainer=trainer)
