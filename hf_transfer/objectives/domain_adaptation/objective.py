"""The ``domain_adaptation`` objective: the task objective's model, wrapped to align source and target features.

The task objective (single-task or multi-task) keeps its labelled source data, heads and metrics; this objective
loads the target domain (its labels, when it has them, only score ``target_test``), wraps the task model in a
:class:`~hf_transfer.wrappers.DomainAdversarialModel`, mixes both domains into every batch, drives λ by a callback
and measures the domain gap before and after training. The export is the task model alone.

Example::

    >>> objective = build_objective(recipe)              # recipe with `adaptation: dann` and a target
    >>> objective.name, objective.task.name
    ('domain_adaptation', 'single_task')
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from ...config.arguments import DataArguments
from ...data import (
    check_columns,
    data_collator,
    input_column,
    input_role,
    is_image_processor,
    load_raw_datasets,
)
from ...data.describe import dataset_reference, describe_dataset
from ...errors import DataError, RecipeError, StrategyError
from ...metrics import strip_prefix
from ...modeling.batchnorm import batchnorm_layers, reestimate_batchnorm
from ...run_files import GAP_PLOT
from ...wrappers.domain_adversarial import DomainAdversarialModel
from ..base import Objective, TrainerInputs, register_objective
from .config import AdaptationArguments, AdaptationConfig
from .domain_gap import head_features, plot_domains, proxy_a_distance
from .masking import TargetMaskingCollator, load_masked_lm_head
from .mixing import DomainMixSampler, mix_domains, with_strong_views
from .priors import bake_correction, estimate_correction, output_layer
from .schedule import LambdaScheduleCallback
from .selection import model_batches, selection_report

logger = logging.getLogger(__name__)


def bars(args, when: str) -> str | None:
    """The domain-gap passes' progress-bar description, None (no bar) under ``disable_tqdm`` or off the main
    process."""
    return None if args.disable_tqdm or args.local_process_index else f"Domain gap {when} training"

SINGLE_TASK_METHODS = ("mcc", "fixmatch", "udalm")  # losses on one classifier's logits / one text encoder
LAMBDA_FORMULAS = {
    "ganin": "λ(p) = λ_max · (2 / (1 + exp(−γ·p)) − 1)",
    "linear": "λ(p) = λ_max · p",
    "constant": "λ(p) = λ_max",
}


def target_data_arguments(data: DataArguments, target: AdaptationArguments) -> DataArguments:
    """The source's data arguments, pointed at the target domain."""
    return dataclasses.replace(
        data,
        dataset_name=target.target_dataset_name,
        dataset_config_name=target.target_dataset_config_name,
        train_file=target.target_train_file,
        validation_file=None,
        test_file=target.target_test_file,
        text_column=target.target_text_column or data.text_column,
        label_column=target.target_label_column or data.label_column,
        max_train_samples=target.max_target_train_samples,
        degrade=target.target_degrade,
        degrade_severity=target.target_degrade_severity,
    )


def sample_rows(dataset: Dataset, limit: int, seed: int) -> Dataset:
    return dataset.shuffle(seed=seed).select(range(min(limit, len(dataset))))


@register_objective("domain_adaptation")
class DomainAdaptation(Objective):
    """Adapt to an unlabelled target domain (DANN, CORAL, MMD, MCC, FixMatch, UDALM, AdaBN, or source-only)."""

    arguments = AdaptationArguments
    wraps = True
    # set by a self_train stage: (model, target rows, processor, training args, labels) → (labels, report)
    pseudo_labeller = None

    @classmethod
    def requested(cls, arguments) -> bool:
        return arguments is not None and arguments.adaptation_config is not None

    @classmethod
    def check_recipe(cls, recipe, source: str) -> None:
        options = recipe.objective_arguments.get(cls.name)
        if options is None or options.adaptation_config is None:
            return
        single = recipe.objective_names[-1] == "single_task"
        kind = options.adaptation_config.type
        if kind in SINGLE_TASK_METHODS and not single:
            raise RecipeError(
                f"{source}: adaptation `{kind}` works on one classifier's predictions; with "
                f"`{recipe.objective_names[-1]}` use dann, coral, mmd, adabn or source_only."
            )
        if options.prior_correction != "none" and not single:
            raise RecipeError(
                f"{source}: prior_correction needs a single classification task; drop it for "
                f"`{recipe.objective_names[-1]}`."
            )

    @property
    def config(self) -> AdaptationConfig:
        return self.options.adaptation_config

    def build_model(self, checkpoint, default_pooling: str):
        self.checkpoint = checkpoint  # udalm reads the checkpoint's masked-LM head, when it ships one
        return self.task.build_model(checkpoint, default_pooling)

    def protected_paths(self) -> dict[str, str]:
        target = self.options
        return {
            **self.task.protected_paths(),
            "target_dataset_name": target.target_dataset_name,
            "target_train_file": target.target_train_file,
            "target_test_file": target.target_test_file,
        }

    def trainer_inputs(self, model, processor) -> TrainerInputs:
        """Load the target, wrap the task model, mix the domains and measure the gap before training."""
        config, args = self.config, self.recipe.training
        if config.type == "fixmatch" and not is_image_processor(processor):
            raise StrategyError(
                "adaptation fixmatch augments target images (weak and strong views): use it with an image model; "
                "for text use mcc, udalm or self_train."
            )
        if config.type == "udalm" and getattr(processor, "mask_token", None) is None:
            raise StrategyError(
                "adaptation udalm masks target text, but the tokenizer has no mask token: use a checkpoint "
                "pretrained with masked-LM (BERT, RoBERTa, MPNet…) or another adaptation type."
            )
        if config.target_batch_norm and not batchnorm_layers(model):
            raise StrategyError(
                f"adaptation {config.type!r} re-estimates batch-norm statistics, but "
                f"{type(model).__name__} has no batch-norm layer (transformers use layer norm): "
                "use adabn / target_batch_norm with a convolutional image model, or another type."
            )
        inputs = self.task.trainer_inputs(model, processor)
        target_args = target_data_arguments(self.recipe.data, self.options)
        raw = load_raw_datasets(
            target_args, seed=args.seed
        )  # empty splits and missing files are DataErrors here
        role = input_role(processor)  # the recipe key that names the target's input column
        check_columns(
            raw,
            {"target_text_column" if role == "text_column" else role: input_column(target_args, processor)},
        )
        labelled = self.task.target_labelled(raw, target_args)
        if len(raw["train"]) < 2:
            raise DataError("The target domain's train split needs at least 2 rows to align domains.")
        target_train = (
            self.task.encode_target(  # labels (when known) only score pseudo-labels; mixing drops them
                DatasetDict({"train": raw["train"]}), target_args, processor, labelled
            )
        )
        eval_splits = {k: v for k, v in raw.items() if k in ("test", "validation")} if labelled else {}
        self.target_eval = (
            self.task.encode_target(DatasetDict(eval_splits), target_args, processor, True)
            if eval_splits
            else DatasetDict()
        )
        if "test" in self.target_eval and "validation" in self.target_eval:
            self.target_eval = DatasetDict({"test": self.target_eval["test"]})
        target_train = target_train["train"]
        cap = self.options.max_target_train_samples
        logger.info(
            "Target domain: %d unlabelled train rows%s",
            len(target_train),
            f" (a seeded sample: max_target_train_samples {cap})" if cap and len(target_train) == cap else "",
        )
        self.target_train = target_train
        wrapped = DomainAdversarialModel.wrap(
            inputs.model,
            alignment=config.type,
            domain_loss_weight=config.domain_loss_weight,
            discriminator_layers=config.discriminator_layers,
            discriminator_hidden=config.discriminator_hidden,
            discriminator_dropout=config.discriminator_dropout,
            mcc_temperature=config.mcc_temperature,
            mlm_weight=config.mlm_weight,
            fixmatch_threshold=config.fixmatch_threshold,
        )
        mlm_head = (
            load_masked_lm_head(wrapped, self.checkpoint, self.recipe.model)
            if config.type == "udalm"
            else None
        )
        source_train = inputs.train_dataset
        sampler = DomainMixSampler(
            len(source_train),
            len(target_train),
            args.per_device_train_batch_size,
            config.source_fraction,
            args.seed,
        )
        encoded = self.data.encoded
        self.gap_rows = (
            sample_rows(encoded.get("test", encoded["validation"]), config.domain_gap_samples, args.seed),
            sample_rows(self.target_eval.get("test", target_train), config.domain_gap_samples, args.seed),
        )
        self.report: dict[str, Any] = {
            "target_rows": {"train": len(target_train), **{k: len(v) for k, v in self.target_eval.items()}},
            **({"mlm_head": mlm_head} if mlm_head else {}),
        }
        self.features_before = None
        self.model = wrapped
        if config.measure_domain_gap:
            self.features_before = self.measure(processor, args.per_device_eval_batch_size, bars(args, "before"))
            self.report["proxy_a_distance_before"] = proxy_a_distance(*self.features_before, seed=args.seed)
            logger.info("Proxy A-distance before adaptation: %.3f", self.report["proxy_a_distance_before"])
        missing = self.task.missing_labels(len(target_train))
        if self.pseudo_labeller is not None:  # a self-training round: confident target rows get their labels
            missing, self.report["pseudo_labels"] = self.pseudo_labeller(
                inputs.model, target_train, processor, args, missing
            )
        mixed = mix_domains(source_train, target_train, missing)
        if config.type == "fixmatch":
            mixed = with_strong_views(mixed)
        masking = (
            (lambda collator: TargetMaskingCollator(collator, processor, config.mlm_probability))
            if config.type == "udalm"
            else None
        )
        if inputs.task_loss is not None:  # class weights: the wrapper weighs its task loss
            wrapped.task_loss_function = inputs.task_loss
        return dataclasses.replace(
            inputs,
            model=wrapped,
            train_dataset=mixed,
            sampler=sampler,
            callbacks=[*inputs.callbacks, LambdaScheduleCallback(config)],
            wrap_collator=masking,
            task_loss=None,
        )

    def adjust(self, trainer, processor) -> None:
        """After training: the target's batch-norm statistics (AdaBN) and the label-shift correction."""
        self.task.adjust(trainer, processor)
        task_model = trainer.accelerator.unwrap_model(trainer.model).task_model
        if self.config.target_batch_norm:
            batches = model_batches(
                task_model,
                self.target_train,
                data_collator(processor),
                trainer.args.per_device_eval_batch_size,
                None if trainer.args.disable_tqdm else "AdaBN: target statistics",
            )
            layers = reestimate_batchnorm(task_model, batches)
            self.report["target_batch_norm"] = {"layers": layers, "rows": len(self.target_train)}
            logger.info(
                "AdaBN: re-estimated %d batch-norm layers on %d target rows", layers, len(self.target_train)
            )
        correcting = self.options.prior_correction == "em"
        rows = (  # prior correction reads every target row; the selection scores alone, a sample
            self.target_train
            if correcting
            else sample_rows(self.target_train, self.config.domain_gap_samples, trainer.args.seed)
        )
        target_logits = trainer.predict(rows, metric_key_prefix="target_train").predictions
        target_logits = np.asarray(target_logits[0] if isinstance(target_logits, tuple) else target_logits)
        self.report["selection"] = selection_report(trainer, target_logits)
        if correcting:
            self.report["prior_correction"] = self.correct_priors(trainer, task_model, target_logits)

    def correct_priors(self, trainer, task_model, target_logits: np.ndarray) -> dict[str, Any]:
        """EM target priors (calibrated on source validation, guarded by BBSE), baked into the head's bias."""
        validation = trainer.predict(self.data.encoded["validation"], metric_key_prefix="calibration")
        logits = (
            validation.predictions[0] if isinstance(validation.predictions, tuple) else validation.predictions
        )
        classes = np.asarray(logits).shape[1]
        counts = np.bincount(np.asarray(self.data.encoded["train"]["labels"]), minlength=classes)
        estimate = estimate_correction(
            np.asarray(logits),
            np.asarray(validation.label_ids),
            target_logits,
            counts / counts.sum(),
            self.options.prior_tolerance,
        )
        before = None
        if (
            estimate.applied and "test" in self.target_eval
        ):  # the uncorrected target score, beside the corrected one
            before = trainer.evaluate(self.target_eval["test"], metric_key_prefix="target_test")
        if estimate.applied:
            bake_correction(
                output_layer(task_model, classes), estimate.temperature, estimate.bias, estimate.log_ratio
            )
        report = estimate.report()
        if before is not None:
            report["target_test_before"] = strip_prefix(before, "target_test")
        logger.info(
            "Prior correction: target priors %s (source %s, BBSE %s): %s",
            report["target_priors"],
            report["source_priors"],
            report["bbse_priors"],
            report["reason"],
        )
        return report

    def measure(self, processor, batch_size: int, progress: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The features the task head reads, for the sampled source and target rows (``progress``: the bars'
        description, None: no bars)."""
        collator = data_collator(processor)
        source, target = self.gap_rows
        task_model = self.model.task_model
        return tuple(
            head_features(task_model, rows, collator, batch_size, progress and f"{progress} ({name})")
            for name, rows in (("source", source), ("target", target))
        )

    def finish(self, trainer, processor, output_dir: Path) -> dict[str, Any]:
        """The domain gap after training (and its picture beside the model), and the target test metrics."""
        results = self.task.finish(trainer, processor, output_dir)
        report = {"config": self.config.to_dict(), **self.report}
        if self.features_before is not None:
            after = self.measure(processor, trainer.args.per_device_eval_batch_size, bars(trainer.args, "after"))
            report["proxy_a_distance_after"] = proxy_a_distance(*after, seed=trainer.args.seed)
            if trainer.args.should_save:
                plot_domains(
                    {"before adaptation": self.features_before, "after adaptation": after},
                    output_dir / GAP_PLOT,
                )
                report["plot"] = GAP_PLOT
            logger.info(
                "Proxy A-distance: %.3f before, %.3f after adaptation",
                report["proxy_a_distance_before"],
                report["proxy_a_distance_after"],
            )
        results["domain_adaptation"] = report
        if "test" in self.target_eval:
            target = trainer.evaluate(self.target_eval["test"], metric_key_prefix="target_test")
            results["target_test"] = strip_prefix(target, "target_test")
        return results

    def exported_model(self, model):
        return self.task.exported_model(
            model.task_model if isinstance(model, DomainAdversarialModel) else model
        )

    # -- a saved run ----------------------------------------------------------------------------------------------

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        alignment = ((metrics.get("domain_adaptation") or {}).get("config") or {}).get("type", "dann")
        return f"{alignment} domain adaptation"

    @classmethod
    def card(cls, context: dict[str, Any], saved) -> None:
        report = (saved.metrics or {}).get("domain_adaptation") or {}
        config = dict(report.get("config") or {})
        datasets, target_description = describe_dataset(saved.recipe, "target_")
        context["domain"] = {
            "config": config,
            "formula": LAMBDA_FORMULAS.get(config.get("lambda_schedule", ""), ""),
            "target_description": target_description,
            "target_rows": report.get("target_rows") or {},
            "proxy_before": report.get("proxy_a_distance_before"),
            "proxy_after": report.get("proxy_a_distance_after"),
            "plot": report.get("plot"),
            "mlm_head": report.get("mlm_head"),
            "target_batch_norm": report.get("target_batch_norm"),
            "prior_correction": report.get("prior_correction"),
            "selection": report.get("selection"),
        }
        context["datasets"] = sorted(set(context.get("datasets") or []) | set(datasets or [])) or None
        context["tags"] += ["domain-adaptation", config.get("type", "dann")]
        context["split_datasets"]["target_test"] = (
            dataset_reference(saved.recipe, "target_", context["modality"]),
            "test",
        )
        if context["template"] != "multitask.md":  # a multi-task card shows the adaptation in its own section
            context["template"] = "domain_adapted.md"
