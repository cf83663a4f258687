"""The options of ``hf-transfer compare``: a dataclass parsed by ``HfArgumentParser`` (command line) or built from a
recipe's ``compare:`` block; every value is checked in ``__post_init__``.

Example::

    >>> CompareArguments(candidates=["lora", "full"], seeds=2, budget="30m").budget_seconds
    1800.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import RecipeError

ALL_ROWS = "all"
DEFAULT_CANDIDATES = ("feature_extraction", "top_layers", "lora", "full")
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(value: str | float | int | None, key: str) -> float | None:
    """Seconds from ``"30m"``, ``"1h30m"``, ``"90s"``, ``"1.5h"`` or a plain number of seconds (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        match = _DURATION.match(text)
        if re.search(r"[hm]\s*\d+(\.\d+)?$", text):  # "1h30": minutes or seconds?
            raise RecipeError(
                f"`{key}: {value}` is ambiguous: give the last number its unit, e.g. 1h30m or 1h30s."
            )
        if not match or not any(match.groups()):
            raise RecipeError(
                f"`{key}: {value}` is not a duration: write e.g. 30m, 1h30m, 90s or a number of seconds."
            )
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise RecipeError(f"`{key}: {value}` must be a positive duration, e.g. 30m.")
    return seconds


def parse_train_size(value: Any) -> int | None:
    """A training-set size: a positive number of rows, or ``all`` (None: every row)."""
    if str(value).strip().lower() == ALL_ROWS:
        return None
    try:
        size = int(str(value))
    except ValueError:
        size = 0
    if size <= 0:
        raise RecipeError(
            f"`train_sizes` entry {value!r} is neither a positive number of rows nor `all`: "
            "write e.g. --train_sizes 250 1000 all."
        )
    return size


def size_name(size: int | None) -> str:
    """The folder / table name of a training-set size (``250``, ``all``)."""
    return ALL_ROWS if size is None else str(size)


@dataclass
class CompareArguments:
    """What to compare, how often and under which budget (``hf-transfer compare RECIPE --help``)."""

    candidates: list[str] | None = field(
        default=None,
        metadata={
            "help": "What to compare: strategy presets (feature_extraction, top_layers, lora, full), any "
            "registered strategy type, an adaptation type (source_only, dann, mcc, ...; for a recipe with "
            "`adaptation:`), or a recipe file / shipped recipe name. Default: "
            + " ".join(DEFAULT_CANDIDATES)
            + ". A recipe's `compare:` block may also list mappings {name: ..., <recipe keys>: ...}."
        },
    )
    seeds: int = field(
        default=3,
        metadata={"help": "Runs per candidate and size, with seeds: the recipe's seed, seed + 1, ..."},
    )
    train_sizes: list[str] = field(
        default_factory=lambda: [ALL_ROWS],
        metadata={
            "help": "Training-set sizes (rows, or `all`): each a seeded subset, nested (for one seed a smaller "
            "size is the start of a larger one), e.g. 250 1000 4000 all."
        },
    )
    budget: str | None = field(
        default=None,
        metadata={
            "help": "Wall-time budget of the whole comparison (e.g. 30m, 1h30m, 90s): shared equally by its "
            "runs after the timing probes; a run whose epochs do not fit its share trains the steps that fit."
        },
    )
    budget_per_run: str | None = field(
        default=None,
        metadata={"help": "Wall-time budget of each run instead (e.g. 5m). Unset with `budget`: equal epochs."},
    )
    probe_steps: int = field(
        default=5,
        metadata={"help": "Training steps of each candidate's timing probe (with a budget only)."},
    )
    metric: str | None = field(
        default=None,
        metadata={
            "help": "The validation metric that ranks candidates (default: metric_for_best_model, else the "
            "recipe's first metric). Test and target scores are reported, never used to choose."
        },
    )
    tolerance: float | None = field(
        default=None,
        metadata={
            "help": "Within the noise of the best: a mean at most this far below the best mean (metric units, "
            "e.g. 0.005). Default: the larger of the two candidates' seed std."
        },
    )
    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "The comparison folder (default: outputs/compare/<recipe name>). Running the same "
            "command again continues it: finished runs are reused."
        },
    )

    def __post_init__(self):
        if self.candidates is not None and not self.candidates:
            raise RecipeError("`candidates` is empty: name at least one, e.g. --candidates lora full.")
        if self.seeds < 1:
            raise RecipeError(f"`seeds: {self.seeds}` must be at least 1 (3 gives a seed spread).")
        if self.probe_steps < 2:
            raise RecipeError(f"`probe_steps: {self.probe_steps}` must be at least 2 (the first step warms up).")
        if not self.train_sizes:
            raise RecipeError("`train_sizes` is empty: give sizes such as 250 1000 all.")
        sizes = [parse_train_size(size) for size in self.train_sizes]
        if len(set(sizes)) != len(sizes):
            raise RecipeError(f"`train_sizes` {self.train_sizes} repeats a size: give each once.")
        if self.budget and self.budget_per_run:
            raise RecipeError("Both `budget` and `budget_per_run` are set: keep one.")
        parse_duration(self.budget, "budget")
        parse_duration(self.budget_per_run, "budget_per_run")
        if self.tolerance is not None and self.tolerance < 0:
            raise RecipeError(f"`tolerance: {self.tolerance}` must be 0 or more (metric units, e.g. 0.005).")

    @property
    def sizes(self) -> list[int | None]:
        """The training-set sizes, smallest first (None, every row, last)."""
        sizes = [parse_train_size(size) for size in self.train_sizes]
        return sorted(sizes, key=lambda s: float("inf") if s is None else s)

    @property
    def budget_seconds(self) -> float | None:
        return parse_duration(self.budget, "budget")

    @property
    def budget_per_run_seconds(self) -> float | None:
        return parse_duration(self.budget_per_run, "budget_per_run")
