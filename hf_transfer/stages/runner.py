"""Running a recipe's stages in order in one output folder, resumable stage by stage.

A recipe without ``stages:`` is one ``train`` stage written straight into its output folder, as always. With
``stages:``, stage ``n`` runs in ``stages/<n>-<name>/`` with the recipe's keys plus its own overrides, starting
from stage ``n-1``'s saved model; every stage recipe is parsed before anything loads, so a bad key in stage 3
fails at once. The final stage's model is then placed at the top of the folder (hard links where the file system
allows), with ``metrics.json`` listing the stages. ``--resume_from_checkpoint true`` skips the stages that
finished (their ``metrics.json`` exists) and resumes the current one from its last checkpoint.

Example (YAML)::

    stages:
      - {kind: train, name: head, strategy: feature_extraction, learning_rate: 1e-3}
      - {kind: train, name: full, strategy: full, learning_rate: 2e-5}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Recipe, check_keys, parse_recipe
from ..errors import OutputDirError, RecipeError
from ..run_files import METRICS_FILE, RECIPE_FILE, STAGES_DIR
from ..training.outputs import claim_output_dir, resuming
from ..typed_values import coerce_fields
from .base import StageContext, StageKind, StageResult, stage_kind_class
from .files import place_final_model

logger = logging.getLogger(__name__)

NOT_PER_STAGE = ("output_dir", "stages", "overwrite_output_dir", "resume_from_checkpoint", "push_to_hub")
TOP_ONLY = (
    *NOT_PER_STAGE,
    "hub_model_id",
    "hub_token",
    "hub_private_repo",
    "hub_revision",
    "hub_commit_message",
)
STAGE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class StagePlan:
    """One stage to run: its number, name, kind, parsed recipe and folder (relative to the run's folder)."""

    number: int
    name: str
    kind: StageKind
    recipe: Recipe
    folder: str

    def record(self, result: StageResult, skipped: bool = False) -> dict[str, Any]:
        metrics = result.metrics
        return {
            "number": self.number,
            "name": self.name,
            "kind": self.kind.name,
            "folder": self.folder,
            **({"resumed_as_finished": True} if skipped else {}),
            **{split: metrics[split] for split in ("validation", "test", "target_test") if split in metrics},
        }


def plan_stages(recipe: Recipe) -> list[StagePlan] | None:
    """Every stage of a multi-stage recipe, parsed and validated (None for a recipe without ``stages:``)."""
    if not recipe.stages:
        return None
    base = {k: v for k, v in recipe.values.items() if k not in TOP_ONLY}
    plans, names = [], set()
    for number, spec in enumerate(recipe.stages, start=1):
        spec = dict(spec)
        where = f"stage {number} of `stages`"
        kind_class = stage_kind_class(spec.pop("kind"), where)
        name = STAGE_NAME.sub("_", str(spec.pop("name", kind_class.name)))
        if name in names:
            raise RecipeError(
                f"{where}: the name {name!r} is taken by an earlier stage; give each a distinct `name`."
            )
        names.add(name)
        option_names = [f.name for f in dataclasses.fields(kind_class.options)] if kind_class.options else []
        options = {k: spec.pop(k) for k in list(spec) if k in option_names}
        fixed = [k for k in spec if k in TOP_ONLY]
        if fixed:
            raise RecipeError(
                f"{where}: `{fixed[0]}` is set for the whole run, not per stage: move it to the recipe's top level."
            )
        check_keys(spec, where)
        folder = f"{STAGES_DIR}/{number}-{name}"
        values = {
            **base,
            **spec,
            "output_dir": str(Path(recipe.training.output_dir) / folder),
            "push_to_hub": False,
        }
        if plans and "model_name_or_path" not in spec:
            values["model_name_or_path"] = plans[-1].recipe.training.output_dir  # the previous stage's model
        stage_recipe = parse_recipe(values)
        stage_recipe.name = recipe.name
        kind = kind_class(
            kind_class.options(**coerce_fields(kind_class.options, options, where))
            if kind_class.options
            else None
        )
        kind.check(stage_recipe, where)
        plans.append(StagePlan(number, name, kind, stage_recipe, folder))
    return plans


def _finished(folder: Path) -> dict[str, Any] | None:
    path = folder / METRICS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def run_stages(recipe: Recipe, plans: list[StagePlan] | None) -> tuple[StageResult, list[dict] | None]:
    """Run the recipe (one ``train`` stage) or each planned stage in order; returns the final stage's result and,
    for a multi-stage recipe, the stage records."""
    if plans is None:
        return stage_kind_class("train", "recipe")().run(recipe, StageContext(claim=claim_output_dir)), None
    resume = resuming(recipe.training)
    top: Path | None = None

    def claim_top() -> Path:
        nonlocal top
        if top is None:
            top = claim_output_dir(recipe)  # the run's folder (a default name may get a -2 suffix)
        return top

    def claimer(plan: StagePlan):
        def claim(stage_recipe: Recipe) -> Path:
            stage_recipe.training.output_dir = str(claim_top() / plan.folder)
            return claim_output_dir(stage_recipe)

        return claim

    records, previous, result = [], None, None
    for plan in plans:
        stage_recipe, args = plan.recipe, plan.recipe.training
        args.output_dir = str((top or Path(recipe.training.output_dir)) / plan.folder)
        if previous is not None and "model_name_or_path" not in recipe.stages[plan.number - 1]:
            stage_recipe.model.model_name_or_path = str(previous)
        folder = Path(args.output_dir)
        done = _finished(folder) if resume else None
        if done is not None:
            logger.info(
                "Stage %d (%s) finished before: skipped; its model starts the next stage.",
                plan.number,
                plan.name,
            )
            claim_top()
            result = StageResult(folder, done)
            records.append(plan.record(result, skipped=True))
            previous = folder
            continue
        if resume and folder.is_dir() and any(folder.glob("checkpoint-*")):
            args.resume_from_checkpoint = "true"  # the stopped stage continues from its last checkpoint
        elif resume and plan.kind.resumes_itself and folder.is_dir():
            args.resume_from_checkpoint = "true"  # the stage skips what it finished and resumes the rest
        elif folder.is_dir() and any(folder.iterdir()):
            raise OutputDirError(
                f"Stage {plan.number} ({plan.name}): {folder} holds a stopped stage without a checkpoint. Pass "
                "--resume_from_checkpoint true to continue the run, or choose a new --output_dir."
            )
        logger.info("Stage %d of %d: %s (%s)", plan.number, len(plans), plan.name, plan.kind.name)
        context = StageContext(claim=claimer(plan), previous=previous, resume=resume)
        result = plan.kind.run(stage_recipe, context)
        records.append(plan.record(result))
        previous = result.output_dir
    top = claim_top()
    metrics = {**result.metrics, "recipe": recipe.name, "stages": records}
    if recipe.training.should_save:
        place_final_model(result.output_dir, top)
        recipe.save(top / RECIPE_FILE)
        (top / METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    return StageResult(top, metrics, result.trainer), records
