"""A comparison's table and its recommendation, from the run records alone.

**The rule.** Candidates are ranked by the mean over seeds of a *validation* metric (test and target scores are
reported, never used to choose). The *best* has the highest mean. A candidate is *within the noise* of the best
when its mean is at most ``tolerance`` below the best mean, or, without a tolerance, at most the larger of the two
candidates' seed standard deviations below it. The *recommendation* is the cheapest candidate within the noise:
the shortest mean run time (the whole process: loading, caching, training, evaluation), then the fewest trainable
parameters. With one seed there is no spread, so without a tolerance the best is the recommendation.

Example::

    >>> rows = {"full": Row("full", [0.85, 0.86, 0.84], run_seconds=300.0, trainable=22e6),
    ...         "lora": Row("lora", [0.84, 0.85, 0.85], run_seconds=120.0, trainable=0.3e6)}
    >>> recommend(rows).recommended
    'lora'
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from .runs import OK

RULE = (
    "ranked by the mean validation {metric} over seeds; best = the {extreme} mean; within the noise = a mean at "
    "most {noise} {worse} the best; recommended = the cheapest candidate within the noise (shortest mean run "
    "time, then fewest trainable parameters)"
)
LOWER_IS_BETTER = ("loss", "mse", "mae", "rmse")


def higher_is_better(metric: str, greater_is_better: bool | None = None) -> bool:
    """Whether a larger value of ``metric`` is better (a recipe's ``greater_is_better`` wins; losses and errors
    are lower-is-better)."""
    if greater_is_better is not None:
        return bool(greater_is_better)
    name = metric.rsplit("_", 1)[-1] if metric.endswith(("_loss", "_mse", "_mae", "_rmse")) else metric
    return name not in LOWER_IS_BETTER


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None for one value: no spread)."""
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


@dataclass
class Row:
    """One candidate at one training-set size: its seeds' scores and costs."""

    name: str
    scores: list[float] = field(default_factory=list)  # the ranking metric on validation, one per finished seed
    run_seconds: float | None = None
    train_seconds: float | None = None
    trainable: float | None = None
    total: float | None = None
    peak_rss_mib: float | None = None
    peak_cuda_mib: float | None = None
    steps: str = ""  # "k" or "k of n (budget)"
    cut_short: bool = False
    reported: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # split/metric: mean, std
    errors: list[str] = field(default_factory=list)
    seeds: int = 0

    @property
    def mean(self) -> float | None:
        return mean_std(self.scores)[0]

    @property
    def std(self) -> float | None:
        return mean_std(self.scores)[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mean": self.mean,
            "std": self.std,
            "scores": self.scores,
            "seeds": self.seeds,
            "run_seconds": self.run_seconds,
            "train_seconds": self.train_seconds,
            "trainable_parameters": self.trainable,
            "total_parameters": self.total,
            "peak_rss_mib": self.peak_rss_mib,
            "peak_cuda_mib": self.peak_cuda_mib,
            "steps": self.steps,
            "cut_short": self.cut_short,
            "reported": {key: {"mean": m, "std": s} for key, (m, s) in self.reported.items()},
            "errors": self.errors,
        }


@dataclass
class Recommendation:
    best: str | None
    recommended: str | None
    within_noise: list[str]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "recommended": self.recommended,
            "within_noise": self.within_noise,
            "rule": self.rule,
        }


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def reported_keys(records: list[dict[str, Any]]) -> list[str]:
    """``split/metric`` of every score the runs report (loss and timings left out), in a stable order."""
    keys: list[str] = []
    for record in records:
        for split, values in record.get("metrics", {}).items():
            for metric, value in values.items():
                key = f"{split}/{metric}"
                if isinstance(value, (int, float)) and metric not in SKIPPED and key not in keys:
                    keys.append(key)
    return keys


SKIPPED = {"loss", "runtime", "samples_per_second", "steps_per_second", "epoch"}


def summarise_rows(name: str, records: list[dict[str, Any]], metric: str, split: str = "validation") -> Row:
    """A candidate's row at one size from its runs' records (finished or failed); ``split`` holds ``metric``
    (validation, or a named evaluation set)."""
    finished = [r for r in records if r.get("status") == OK]
    row = Row(name, seeds=len(records))
    errors = [str(r.get("error")) for r in records if r.get("status") != OK]
    row.errors = [
        f"{errors.count(error)} of {len(records)} seeds: {error}" if errors.count(error) > 1 else error
        for error in dict.fromkeys(errors)
    ]
    row.scores = [
        r["metrics"][split][metric] for r in finished if metric in r.get("metrics", {}).get(split, {})
    ]
    row.run_seconds = _mean([r.get("process_seconds") or r.get("wall_seconds") for r in finished])
    row.train_seconds = _mean([r.get("train_seconds") for r in finished])
    row.trainable = _mean([r.get("parameters", {}).get("trainable") for r in finished])
    row.total = _mean([r.get("parameters", {}).get("total") for r in finished])
    row.peak_rss_mib = max((r["peak_rss_mib"] for r in finished if r.get("peak_rss_mib")), default=None)
    row.peak_cuda_mib = max((r["peak_cuda_mib"] for r in finished if r.get("peak_cuda_mib")), default=None)
    row.cut_short = any(r["spec"].get("cut_short") for r in records)
    steps = sorted({r.get("steps") for r in finished if r.get("steps") is not None})
    if steps:
        planned = records[0]["spec"].get("planned_steps")
        row.steps = "/".join(str(s) for s in steps) + (f" of {planned} (budget)" if row.cut_short else "")
    for key in reported_keys(finished):
        split, metric_name = key.split("/", 1)
        row.reported[key] = mean_std(
            [r["metrics"][split][metric_name] for r in finished if metric_name in r["metrics"].get(split, {})]
        )
    return row


def recommend(
    rows: dict[str, Row], tolerance: float | None = None, metric: str = "metric", higher: bool = True
) -> Recommendation:
    """Apply the rule of this module to one size's rows (candidates without a finished seed take no part);
    ``higher``: a larger ``metric`` is better (else lower, as for a loss)."""
    noise = f"{tolerance:g}" if tolerance is not None else "the larger of the two candidates' seed std"
    rule = RULE.format(
        metric=metric, noise=noise, extreme="highest" if higher else "lowest", worse="below" if higher else "above"
    )
    scored = [row for row in rows.values() if row.mean is not None]
    if not scored:
        return Recommendation(None, None, [], rule)
    sign = 1.0 if higher else -1.0
    best = max(scored, key=lambda row: sign * row.mean)

    def margin(row: Row) -> float:
        if tolerance is not None:
            return tolerance
        return max(best.std or 0.0, row.std or 0.0)

    within = [row for row in scored if sign * row.mean >= sign * best.mean - margin(row) - 1e-12]
    cheapest = min(
        within,
        key=lambda row: (
            row.run_seconds if row.run_seconds is not None else float("inf"),
            row.trainable if row.trainable is not None else float("inf"),
        ),
    )
    return Recommendation(best.name, cheapest.name, [row.name for row in within], rule)
