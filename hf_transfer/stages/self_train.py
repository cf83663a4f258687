"""The ``self_train`` stage kind: rounds of pseudo-labelling the target and training on source + confident target.

Each round predicts the unlabelled target's train rows with the current model, keeps the confident ones —
``selection: threshold`` keeps every row whose top probability reaches ``confidence_threshold``;
``selection: class_balanced`` keeps, of the rows predicted as each class, the ``keep_fraction`` most confident,
so the kept rows have the predicted class balance — and trains the stage's recipe (its adaptation type, batches
that mix source and target) with those rows labelled. The next round starts from this one's model. Rounds run in
``round-<k>/`` inside the stage's folder; the last round's model is the stage's. Each round's ``metrics.json`` and
the stage's record how many target rows were kept per class and, where the target's train split has labels
(used for nothing else), how accurate the pseudo-labels were.

Example (YAML)::

    stages:
      - {kind: train, name: source}
      - {kind: self_train, rounds: 2, selection: class_balanced, keep_fraction: 0.5, num_train_epochs: 1}
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from ..config import parse_recipe
from ..errors import RecipeError
from ..objectives.domain_adaptation.selection import predict_logits
from ..run_files import METRICS_FILE, RECIPE_FILE
from ..training.outputs import claim_output_dir
from .base import StageContext, StageKind, StageResult, register_stage_kind
from .files import place_final_model
from .train import TrainStage

logger = logging.getLogger(__name__)

SELECTIONS = ("class_balanced", "threshold")
ROUND_DIR = "round-{}"


@dataclass
class SelfTrainingArguments:
    """The ``self_train`` stage's own keys."""

    rounds: int = field(default=1, metadata={"help": "Pseudo-label → train rounds."})
    selection: str = field(
        default="class_balanced",
        metadata={
            "help": "Which target rows get pseudo-labels: class_balanced (the keep_fraction most confident of "
            "each predicted class) or threshold (top probability ≥ confidence_threshold)."
        },
    )
    keep_fraction: float = field(
        default=0.5, metadata={"help": "class_balanced: share of each predicted class kept."}
    )
    confidence_threshold: float = field(
        default=0.9, metadata={"help": "threshold: the least top probability kept."}
    )

    def __post_init__(self):
        if self.rounds < 1:
            raise RecipeError(f"self_train stage: rounds must be ≥ 1, got {self.rounds}.")
        if self.selection not in SELECTIONS:
            raise RecipeError(
                f"self_train stage: unknown selection {self.selection!r}; use {' or '.join(SELECTIONS)}."
            )
        if not 0 < self.keep_fraction <= 1:
            raise RecipeError(f"self_train stage: keep_fraction must be in (0, 1], got {self.keep_fraction}.")
        if not 0 < self.confidence_threshold < 1:
            raise RecipeError(
                f"self_train stage: confidence_threshold must be in (0, 1), got {self.confidence_threshold}."
            )


def select_confident(probabilities: np.ndarray, config: SelfTrainingArguments) -> np.ndarray:
    """The row indices that get pseudo-labels (sorted), by the configured rule."""
    confidence, predicted = probabilities.max(axis=1), probabilities.argmax(axis=1)
    if config.selection == "threshold":
        return np.flatnonzero(confidence >= config.confidence_threshold)
    kept = []
    for label in np.unique(predicted):
        rows = np.flatnonzero(predicted == label)
        count = math.ceil(config.keep_fraction * len(rows))
        kept.append(rows[np.argsort(-confidence[rows], kind="stable")[:count]])
    return np.sort(np.concatenate(kept)) if kept else np.array([], dtype=int)


class PseudoLabeller:
    """What a round's objective calls on the encoded target rows: the labels to train with, and a report."""

    def __init__(self, config: SelfTrainingArguments, round_number: int):
        self.config, self.round = config, round_number

    def __call__(self, model, target, processor, args, labels: list) -> tuple[list, dict[str, Any]]:
        progress = None if args.disable_tqdm else f"Self-training round {self.round}: pseudo-labelling"
        logits = predict_logits(model, target, processor, args.per_device_eval_batch_size, progress)
        probabilities = softmax(logits.astype(np.float64), axis=1)
        kept = select_confident(probabilities, self.config)
        predicted = probabilities.argmax(axis=1)
        labels = list(labels)
        for row in kept:
            labels[row] = int(predicted[row])
        classes = probabilities.shape[1]
        report: dict[str, Any] = {
            "round": self.round,
            "selection": self.config.selection,
            "kept": len(kept),
            "of": len(target),
            "kept_per_class": np.bincount(predicted[kept], minlength=classes).tolist(),
            "predicted_shares": np.round(
                np.bincount(predicted, minlength=classes) / len(predicted), 4
            ).tolist(),
        }
        if (
            "labels" in target.column_names
        ):  # the target's own labels: they score the pseudo-labels, nothing else
            truth = np.asarray(target["labels"])
            report["pseudo_label_accuracy"] = (
                float((predicted[kept] == truth[kept]).mean()) if len(kept) else None
            )
            report["all_rows_accuracy"] = float((predicted == truth).mean())
        logger.info(
            "Self-training round %d: %d of %d target rows pseudo-labelled%s",
            self.round,
            len(kept),
            len(target),
            f" ({100 * report['pseudo_label_accuracy']:.1f} % correct)"
            if report.get("pseudo_label_accuracy")
            else "",
        )
        return labels, report


class PseudoLabelledTrain(TrainStage):
    """One round: the train stage with the round's pseudo-labeller on the domain-adaptation objective."""

    def __init__(self, labeller: PseudoLabeller):
        super().__init__()
        self.labeller = labeller

    def prepare(self, run) -> None:
        run.objective.pseudo_labeller = self.labeller


@register_stage_kind("self_train")
class SelfTrainStage(StageKind):
    """Rounds of pseudo-labelling the target's confident rows and training on them beside the source."""

    options = SelfTrainingArguments
    resumes_itself = True  # finished rounds are skipped, the stopped one resumes from its checkpoint

    def check(self, recipe, where: str) -> None:
        options = recipe.objective_arguments.get("domain_adaptation")
        if options is None or options.adaptation_config is None:
            raise RecipeError(
                f"{where}: self_train pseudo-labels the target domain, but the recipe has none: set `adaptation` "
                "(e.g. source_only or dann) and `target_dataset_name` (or `target_train_file`)."
            )
        if recipe.objective_names[-1] != "single_task":
            raise RecipeError(f"{where}: self_train needs a single classification task, not multitask.")

    def run(self, recipe, context: StageContext) -> StageResult:
        folder: Path | None = None

        def claim_stage() -> Path:
            nonlocal folder
            if folder is None:
                folder = context.claim(recipe)
            return folder

        model, reports, result = recipe.model.model_name_or_path, [], None
        stage_dir = Path(recipe.training.output_dir)
        for number in range(1, self.config.rounds + 1):
            round_dir = stage_dir / ROUND_DIR.format(number)
            values = {**recipe.values, "model_name_or_path": str(model), "output_dir": str(round_dir)}
            round_recipe = parse_recipe(values)
            round_recipe.name = recipe.name
            done = round_dir / METRICS_FILE
            if context.resume and done.is_file():
                metrics = json.loads(done.read_text(encoding="utf-8"))
                claim_stage()
                result = StageResult(round_dir, metrics)
                logger.info("Self-training round %d finished before: skipped.", number)
            else:
                if context.resume and any(round_dir.glob("checkpoint-*")):
                    round_recipe.training.resume_from_checkpoint = "true"

                def claim(r, number=number):
                    r.training.output_dir = str(claim_stage() / ROUND_DIR.format(number))
                    return claim_output_dir(r)

                result = PseudoLabelledTrain(PseudoLabeller(self.config, number)).run(
                    round_recipe, StageContext(claim=claim, previous=context.previous)
                )
            reports.append(result.metrics.get("domain_adaptation", {}).get("pseudo_labels"))
            model = result.output_dir
        out = claim_stage()
        metrics = {**result.metrics, "stage_kind": "self_train", "self_training": reports}
        if recipe.training.should_save:
            place_final_model(result.output_dir, out)
            recipe.save(out / RECIPE_FILE)
            (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str) + "\n")
        return StageResult(out, metrics, result.trainer)
