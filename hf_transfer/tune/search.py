"""``tune``: a hyper-parameter search with ``Trainer.hyperparameter_search`` (Optuna backend) over any recipe key,
strategy options included.

The Trainer sets TrainingArguments fields per trial itself; anything else (``strategy.r``, ``strategy.num_layers``,
``adaptation.domain_loss_weight``) reaches the model through ``model_init``: each trial's recipe is parsed and its
model built as a run builds it (checkpoint → objective → strategy → wrapper). Trials report the validation metric
at every evaluation, so Optuna's pruner stops unpromising ones; the study lives in ``study.db`` (SQLite), so a
stopped search resumes. The result: ``best_recipe.yaml`` (the recipe with the best trial's values), ``tune.json``
and ``tune.md``.

Example::

    >>> import hf_transfer
    >>> result = hf_transfer.tune("sentiment/minilm_lora", {"n_trials": 12, "search_space": {
    ...     "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
    ...     "strategy.r": [4, 8, 16]}})
    >>> result.best_recipe
    PosixPath('outputs/tune/sentiment-minilm_lora/best_recipe.yaml')
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from transformers import TrainerCallback

from ..compare.summary import higher_is_better
from ..config import command_options, json_spec, parse_recipe, recipe_with_block
from ..errors import RecipeError
from ..stages.train import build_trainer, training_inputs
from ..training.outputs import claim_folder
from ..training.prepare import prepare_run
from .config import TuneArguments
from .space import Parameter, parse_space, with_parameters

logger = logging.getLogger(__name__)
BLOCK = "tune"
TUNE_MARKER = ".hf_transfer_tune"
STUDY_FILE, BEST_RECIPE, TUNE_JSON, TUNE_MD = "study.db", "best_recipe.yaml", "tune.json", "tune.md"
# Trials train, evaluate and are scored; they keep no checkpoints and push nothing
TRIAL_OVERRIDES = {
    "save_strategy": "no",
    "load_best_model_at_end": False,
    "early_stopping_patience": None,
    "push_to_hub": False,
    "report_to": "none",
    "save_predictions": False,
}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass
class TuneResult:
    output_dir: Path
    best_params: dict[str, Any] | None
    best_value: float | None
    best_recipe: Path | None
    trials: list[dict[str, Any]]


def tune_arguments(block: dict[str, Any], given: TuneArguments | dict[str, Any] | None) -> TuneArguments:
    arguments = command_options(TuneArguments, block, given, "tune", raw=("search_space",))
    arguments.search_space = json_spec(arguments.search_space, "search_space")
    return arguments


def objective_metric(base: dict[str, Any], arguments: TuneArguments) -> tuple[str, str]:
    """The optimised metric (as the Trainer names it without ``eval_``) and the direction (losses and errors
    are minimised, unless the recipe's ``greater_is_better`` says otherwise)."""
    metric = arguments.metric or base.get("metric_for_best_model") or (base.get("metrics") or ["accuracy"])[0]
    metric = str(metric).removeprefix("eval_")
    higher = higher_is_better(metric, base.get("greater_is_better"))
    return metric, arguments.direction or ("maximize" if higher else "minimize")


def check_study(study: optuna.Study, settings: dict[str, Any], root: Path) -> None:
    """A study folder serves one search: the metric, direction, space and recipe it was made for."""
    made_for = study.user_attrs.get("search")
    if made_for is None:
        study.set_user_attr("search", settings)
    elif made_for != settings:
        changed = ", ".join(key for key in settings if settings[key] != made_for.get(key))
        raise RecipeError(
            f"{root} holds a search with another {changed}: its trials would not compare. Choose another "
            "--output_dir (or delete that folder to start again)."
        )


def metric_value(metrics: dict[str, float], metric: str) -> float:
    """``eval_<metric>``, or validation's ``eval_validation_<metric>`` when the recipe has named evaluation sets."""
    for key in (f"eval_{metric}", f"eval_validation_{metric}"):
        if key in metrics:
            return float(metrics[key])
    raise RecipeError(
        f"The trial's evaluation has no {metric!r}: it reported {', '.join(sorted(metrics))}. Set --metric to one "
        "of them (without eval_)."
    )


def check_space(values: dict[str, Any], space: list[Parameter], arguments: TuneArguments) -> None:
    """Refusals before the first trial: what a search cannot vary, and every range end against the recipe."""
    strategy = values.get("strategy")
    if isinstance(strategy, dict) and strategy.get("cache_features"):
        raise RecipeError(
            "tune builds a model per trial, but `cache_features` computes the backbone's features once: set "
            "`cache_features: false` in the strategy to search a feature-extraction recipe."
        )
    if values.get("stages"):
        raise RecipeError("tune searches one training run; a multi-stage recipe (`stages:`) is not supported.")
    if arguments.pruner != "none" and str(values.get("eval_strategy", "epoch")) == "no":
        raise RecipeError(
            "The pruner stops trials at their evaluations, but `eval_strategy` is no: set `eval_strategy: epoch` "
            "(or steps), or `--pruner none`."
        )
    for parameter in space:
        for value in parameter.extremes():
            try:
                parse_recipe(with_parameters(values, {parameter.name: value}))
            except RecipeError as err:
                raise RecipeError(f"Search-space key {parameter.name!r} at {value!r}: {err}") from None


def _pruner(arguments: TuneArguments):
    if arguments.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=arguments.pruner_startup_trials)


def _trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "intermediate_values": t.intermediate_values,
            "trainable_parameters": t.user_attrs.get("trained_parameters", t.user_attrs.get("trainable_parameters")),
            "seconds": t.duration.total_seconds() if t.duration else None,
        }
        for t in study.trials
    ]


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _markdown(name: str, metric: str, direction: str, rows: list[dict[str, Any]], best) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row["params"]))
    header = ["trial", "state", f"validation {metric}", *keys, "trainable", "s"]
    lines = [
        f"# Search: {name}",
        "",
        f"Optimised: validation {metric} ({direction}); Optuna TPE sampler, study in {STUDY_FILE}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for row in rows:
        value = "-" if row["value"] is None else f"{row['value']:.4f}"
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.0f}"
        trainable = "-" if row["trainable_parameters"] is None else f"{row['trainable_parameters']:,}"
        cells = [str(row["number"]), row["state"].lower(), value, *[_shown(row["params"].get(k, "-")) for k in keys]]
        lines.append("| " + " | ".join([*cells, trainable, seconds]) + " |")
    if best is not None:
        shown = ", ".join(f"{k} = {_shown(v)}" for k, v in best.params.items())
        lines += ["", f"**Best: trial {best.number}**, validation {metric} {best.value:.4f}: {shown}."]
        lines.append(f"Its recipe: `{BEST_RECIPE}` (train it with `hf-transfer train {BEST_RECIPE}`).")
    return "\n".join(lines) + "\n"


def tune(
    recipe: str | Path | dict[str, Any],
    arguments: TuneArguments | dict[str, Any] | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> TuneResult:
    """Search the recipe's ``tune: {search_space: ...}`` (or ``arguments["search_space"]``) for the best
    validation metric. ``pruner`` (an Optuna pruner) replaces ``arguments.pruner``. See the module docstring."""
    original, block, name = recipe_with_block(recipe, overrides, BLOCK)
    original = {k: v for k, v in original.items() if not k.endswith("_token")}  # best_recipe.yaml: no secrets
    arguments = tune_arguments(block, arguments)
    space = parse_space(arguments.search_space)
    metric, direction = objective_metric(original, arguments)
    root = Path(arguments.output_dir or Path("outputs") / "tune" / name)
    values = {**original, **TRIAL_OVERRIDES, "output_dir": str(root / "trials"), "overwrite_output_dir": True}
    check_space(values, space, arguments)
    lock = claim_folder(root, TUNE_MARKER, "search")
    started = time.perf_counter()
    try:
        storage = f"sqlite:///{(root / STUDY_FILE).resolve()}"
        seed = arguments.sampler_seed if arguments.sampler_seed is not None else int(original.get("seed", 42))
        study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True, direction=direction)
        recipe_key = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]
        check_study(
            study,
            {"metric": metric, "direction": direction, "space": arguments.search_space, "recipe": recipe_key},
            root,
        )
        for stale in (t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING):
            study.tell(stale.number, state=optuna.trial.TrialState.FAIL)  # a killed search's unfinished trial
            logger.info("Trial %d was cut short by a stopped search: marked failed, not counted.", stale.number)
        remaining = arguments.n_trials - sum(t.state in FINISHED for t in study.trials)
        try:
            if remaining > 0:  # a resumed search draws on: the sampler's seed moves past the trials already made
                seed += len(study.trials)
                _search(values, space, metric, direction, remaining, storage, name, seed, pruner or _pruner(arguments))
            else:
                logger.info("The study already has %d finished trials: nothing to run.", arguments.n_trials)
        finally:  # the trials so far are reported even when a trial's error stops the search
            result = _report(root, name, original, arguments, metric, direction, storage, started)
    finally:
        lock.close()
    return result


def _report(root, name, original, arguments, metric, direction, storage, started) -> TuneResult:
    """tune.md, tune.json and best_recipe.yaml from the study as it stands."""
    study = optuna.load_study(study_name=name, storage=storage)
    rows = _trial_rows(study)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial if completed else None
    best_path = None
    if best is not None:
        best_values = with_parameters(original, best.params)
        best_values.pop("output_dir", None)
        best_path = root / BEST_RECIPE
        best_path.write_text(yaml.safe_dump(best_values, sort_keys=False, allow_unicode=True))
    (root / TUNE_MD).write_text(_markdown(name, metric, direction, rows, best))
    payload = {
        "recipe": name,
        "metric": f"validation/{metric}",
        "direction": direction,
        "search_space": arguments.search_space,
        "n_trials": arguments.n_trials,
        "best": {"number": best.number, "value": best.value, "params": best.params} if best else None,
        "trials": rows,
        "seconds": time.perf_counter() - started,
    }
    (root / TUNE_JSON).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return TuneResult(root, best.params if best else None, best.value if best else None, best_path, rows)


def _search(values, space, metric, direction, n_trials, storage, name, seed, pruner) -> None:
    """Run ``n_trials`` more trials of the study through ``Trainer.hyperparameter_search``."""
    recipe = parse_recipe(values)
    run = prepare_run(recipe)
    inputs, data = training_inputs(run)
    if run.strategy.callbacks():
        raise RecipeError(
            f"tune cannot search strategy {run.strategy.config.type!r}: it schedules training through callbacks "
            "that belong to one model. Search another strategy, or tune its options by hand."
        )
    trainer = None

    def model_init(trial=None):
        if trial is None:  # the Trainer's first model, before any trial
            return inputs.model
        params = {p.name: p.suggest(trial) for p in space}  # the Trainer asks hp_space for them only later
        trial_run = prepare_run(parse_recipe(with_parameters(values, params)))
        trial_inputs, _ = training_inputs(trial_run)
        trainer.strategy = trial_run.strategy  # its optimizer groups (held parameters, layer-wise decay)
        trainer.task_loss = trial_inputs.task_loss
        trial.set_user_attr("trainable_parameters", trial_run.parameters["trainable"])
        return trial_inputs.model

    def hp_space(trial) -> dict[str, Any]:
        return {p.name: p.suggest(trial) for p in space if p.trains}

    trainer = build_trainer(run, inputs, data, model_init=model_init)
    trainer.add_callback(TrainedParameters(trainer))
    try:
        _run_trials(trainer, hp_space, metric, direction, n_trials, storage, name, seed, pruner)
    except ValueError as err:  # transformers asks the study for its best trial: none when every trial was pruned
        finished = optuna.load_study(study_name=name, storage=storage).trials
        all_pruned = all(t.state == optuna.trial.TrialState.PRUNED for t in finished[-n_trials:])
        if not all_pruned or "Record does not exist" not in str(err):
            raise
        logger.warning("Every trial was pruned: no best recipe.")


class TrainedParameters(TrainerCallback):
    """Records on the trial how many parameters the model the Trainer actually trains has trainable."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        trial = getattr(self.trainer, "_trial", None)
        if trial is not None and hasattr(trial, "set_user_attr") and model is not None:
            trial.set_user_attr("trained_parameters", sum(p.numel() for p in model.parameters() if p.requires_grad))


def _run_trials(trainer, hp_space, metric, direction, n_trials, storage, name, seed, pruner) -> None:
    trainer.hyperparameter_search(
        hp_space=hp_space,
        compute_objective=lambda metrics: metric_value(metrics, metric),
        n_trials=n_trials,
        direction=direction,
        backend="optuna",
        storage=storage,
        study_name=name,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
