"""Running a comparison's runs: each in its own process (:mod:`hf_transfer.compare.child`), one after another,
each in its own folder, with a record beside it that makes a rerun of the comparison reuse it.

Folder layout (``<comparison>`` is ``--output_dir``)::

    <comparison>/runs/<size>/<candidate>/seed-<s>/        the run's output folder (as `hf-transfer train` writes it)
    <comparison>/runs/<size>/<candidate>/seed-<s>.json    its record: the spec, status, error, times, memory, metrics
    <comparison>/runs/<size>/<candidate>/seed-<s>.log     the child's output
    <comparison>/probes/<candidate>.json                  the timing probe (with a budget)

A record whose status is ``ok`` and whose spec equals the planned one is reused; any other planned run is started
again: from its last checkpoint when the same spec stopped midway, else in its (own, marked) folder replaced.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers.trainer_utils import get_last_checkpoint

from ..errors import RecipeError
from .candidates import Candidate
from .config import size_name

OK, FAILED = "ok", "failed"
PROBE_OVERRIDES = {
    "eval_strategy": "no",
    "save_strategy": "no",
    "early_stopping_patience": None,
    "load_best_model_at_end": False,
    "save_predictions": False,
    "report_to": "none",
    "push_to_hub": False,
}


@dataclass
class PlannedRun:
    """One run: a candidate at a training-set size and seed, its full recipe and where it writes."""

    candidate: Candidate
    size: int | None
    seed: int
    recipe: dict[str, Any]
    folder: Path
    planned_steps: int | None = None  # the steps of its epochs (known with a budget)
    cut_short: bool = False  # the budget set max_steps below planned_steps
    too_small: str | None = None  # why the budget leaves it no step (it is then reported, not run)

    @property
    def record_path(self) -> Path:
        return self.folder.with_name(self.folder.name + ".json")

    @property
    def log_path(self) -> Path:
        return self.folder.with_name(self.folder.name + ".log")

    @property
    def spec(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate.name,
            "size": size_name(self.size),
            "seed": self.seed,
            "recipe": self.recipe,
            "planned_steps": self.planned_steps,
            "cut_short": self.cut_short,
        }


def run_recipe(candidate: Candidate, base: dict[str, Any], size: int | None, seed: int, folder: Path) -> dict:
    """The recipe of one run: the candidate over the base, its seed, size, folder; nothing pushed."""
    values = without_secrets(candidate.recipe_values(base))  # records are saved: no token ever goes in
    values.update(seed=seed, output_dir=str(folder), push_to_hub=False)
    values.pop("resume_from_checkpoint", None)
    values.pop("overwrite_output_dir", None)
    if size is not None:
        values["max_train_samples"] = size
    return values


def without_secrets(values: dict[str, Any]) -> dict[str, Any]:
    """A recipe without its secrets (``hub_token``, any ``*_token``): runs of a comparison push nothing."""
    return {key: value for key, value in values.items() if not key.endswith("_token")}


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Replace a run's record atomically (a killed process leaves the old one or the new one, never half)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(partial, path)


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def reusable(run: PlannedRun) -> dict[str, Any] | None:
    """The finished record of this exact run, if there is one."""
    record = read_record(run.record_path)
    if record and record.get("status") == OK and record.get("spec") == _plain(run.spec) and _has_model(run):
        return record
    return None


def _has_model(run: PlannedRun) -> bool:
    """The run's saved model is still there (a probe keeps none)."""
    if run.folder.parent.name == "probes":
        return True
    return any((run.folder / name).is_file() for name in ("config.json", "adapter_config.json"))


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _launch_flags(run: PlannedRun) -> dict[str, Any]:
    """Continue a stopped run of the same spec from its last checkpoint; replace any other content (the folder is
    this comparison's, and `train` deletes only folders it marked)."""
    if not (run.folder.is_dir() and any(run.folder.iterdir())):
        return {}
    previous = read_record(run.record_path)
    if previous and previous.get("spec") == _plain(run.spec) and get_last_checkpoint(str(run.folder)):
        return {"resume_from_checkpoint": "true"}
    return {"overwrite_output_dir": True}


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def execute(run: PlannedRun) -> dict[str, Any]:
    """Run one planned run in a fresh Python process (its output to the log) and return its record."""
    run.folder.parent.mkdir(parents=True, exist_ok=True)
    flags = _launch_flags(run)
    record = {"spec": _plain(run.spec), "status": "pending", "launch": flags}
    record_file = run.record_path
    write_record(record_file, record)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    with open(run.log_path, "w", encoding="utf-8") as log:
        process = subprocess.run(
            [sys.executable, "-m", "hf_transfer.compare.child", str(record_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    record = read_record(record_file) or record
    record["process_seconds"] = time.perf_counter() - started  # the whole process, start-up included
    if record.get("status") not in (OK, FAILED):  # killed, or died before writing its result
        record.update(status=FAILED, error=f"exit code {process.returncode}: {_last_line(run.log_path)}")
    record["returncode"] = process.returncode
    write_record(record_file, record)
    if record.get("status") == OK:
        drop_checkpoints(run.folder)
    return record


def drop_checkpoints(folder: Path) -> None:
    """A finished run's checkpoints (kept only to resume it) go: the comparison made them, the model stays."""
    for checkpoint in folder.glob("checkpoint-*"):
        if checkpoint.is_dir():
            shutil.rmtree(checkpoint)


# ---- budget: timing probes and the steps that fit -------------------------------------------------------------


@dataclass
class Probe:
    """A few training steps of a candidate at the largest size: fixed cost, seconds per step, steps per epoch."""

    overhead_seconds: float  # start the process, load, tokenise (or cache features), final evaluation, save
    seconds_per_step: float
    steps_per_epoch: float  # at the probe's training-set size
    eval_seconds: float  # one validation pass
    train_rows: int
    wall_seconds: float

    def steps_per_epoch_at(self, size: int | None) -> float:
        rows = self.train_rows if size is None else min(size, self.train_rows)
        return self.steps_per_epoch * rows / max(1, self.train_rows)

    def steps_that_fit(self, seconds: float, evaluations: int) -> int:
        """Steps that fit ``seconds`` after the fixed cost (which holds the final evaluation) and ``evaluations``
        more during training."""
        usable = seconds - self.overhead_seconds - evaluations * self.eval_seconds
        return math.floor(usable / self.seconds_per_step) if self.seconds_per_step > 0 else 0


def probe_run(candidate: Candidate, base: dict[str, Any], size: int | None, seed: int, root: Path, steps: int):
    """The probe of a candidate as a planned run (its recipe: ``steps`` steps, no checkpoints, no predictions)."""
    folder = root / "probes" / candidate.name
    recipe = run_recipe(candidate, base, size, seed, folder)
    recipe.update(PROBE_OVERRIDES, max_steps=steps)
    return PlannedRun(candidate, size, seed, recipe, folder)


def read_probe(record: dict[str, Any]) -> Probe:
    steps = record.get("steps") or 0
    train_seconds = record.get("train_seconds") or 0.0
    epochs = record.get("epochs") or 0.0
    wall = record.get("process_seconds") or record.get("wall_seconds") or 0.0
    return Probe(
        overhead_seconds=max(0.0, wall - train_seconds),
        seconds_per_step=train_seconds / steps if steps else 0.0,
        steps_per_epoch=steps / epochs if epochs else float(steps),
        eval_seconds=float(record.get("metrics", {}).get("validation", {}).get("runtime") or 0.0),
        train_rows=int(record.get("rows", {}).get("train") or 0),
        wall_seconds=wall,
    )


def drop_probe_folder(run: PlannedRun) -> None:
    """A probe's model is never used: its folder (this comparison's, marked by the run) goes once measured."""
    if run.folder.is_dir() and (run.folder / ".hf_transfer_run").is_file():
        shutil.rmtree(run.folder)


def fit_to_budget(run: PlannedRun, probe: Probe, seconds: float) -> None:
    """Set ``max_steps`` of a run whose epochs do not fit ``seconds`` (and record the planned steps)."""
    recipe = run.recipe
    epochs = float(recipe.get("num_train_epochs", 3.0))
    fixed = int(recipe.get("max_steps") or -1)
    planned = fixed if fixed > 0 else math.ceil(round(probe.steps_per_epoch_at(run.size) * epochs, 6))
    strategy = str(recipe.get("eval_strategy", "epoch"))
    if strategy == "epoch":
        evaluations = math.ceil(epochs)
    elif strategy == "steps":
        evaluations = planned // max(1, int(float(recipe.get("eval_steps") or 500)))
    else:
        evaluations = 0
    fits = probe.steps_that_fit(seconds, evaluations)
    run.planned_steps = planned
    if fits < 1:  # not even one step: the run is reported as failed, never trained to a useless model
        run.too_small = (
            f"the budget's share, {seconds:.0f} s a run, does not cover this candidate's fixed cost "
            f"({probe.overhead_seconds:.0f} s) and one step ({probe.seconds_per_step:.1f} s): give a larger budget"
        )
    elif fits < planned:
        recipe["max_steps"] = fits
        run.cut_short = True


def check_budget_recipe(base: dict[str, Any]) -> None:
    if base.get("stages"):
        raise RecipeError(
            "A budget cannot be split over a multi-stage recipe (`stages:`): each stage has its own steps. "
            "Compare it with equal epochs (drop --budget / --budget_per_run), or set each stage's epochs."
        )


def not_run(run: PlannedRun, error: str) -> dict[str, Any]:
    """The record of a run that cannot start (its probe failed, the budget leaves it no step)."""
    record = {"spec": _plain(run.spec), "status": FAILED, "error": error}
    run.folder.parent.mkdir(parents=True, exist_ok=True)
    write_record(run.record_path, record)
    return record
