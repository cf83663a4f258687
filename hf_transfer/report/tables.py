"""A finished run as plain text: recipe, model, strategy and objectives, parameters, training, the metrics of
every split (per task for a multi-task model), the plots beside it.

Example::

    >>> print(summary_table("outputs/sentiment-minilm_full/20250101-120000"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..objectives import objective_class, recorded_objectives
from ..tables import TIMING_KEYS, format_table
from .plots import series
from .reading import read_metrics, trainer_state

SPLITS = ("validation", "test", "target_test")


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _overview(out: Path, metrics: dict, state: dict) -> list[list[str]]:
    strategy = metrics.get("strategy") or {}
    kind = strategy.get("type", "?") if isinstance(strategy, dict) else str(strategy)
    for name in reversed(recorded_objectives(metrics)):  # the task objective, then its wrappers
        described = objective_class(name).describe(metrics)
        kind += f", {described}" if described else ""
    rows = [["run", str(out)], ["recipe", str(metrics.get("recipe"))], ["model", str(metrics.get("model"))]]
    rows.append(["strategy", kind])
    parameters = metrics.get("parameters") or {}
    if parameters:
        share = 100 * parameters["trainable"] / parameters["total"]
        rows.append(
            ["parameters", f"{parameters['trainable']:,} trainable of {parameters['total']:,} ({share:.2f}%)"]
        )
    rows.append(["training", _training_line(metrics.get("train") or {}, state)])
    return rows


def _training_line(train: dict, state: dict) -> str:
    losses = series(state.get("log_history", []), "loss")[1]
    parts = []
    if "train_runtime" in train:
        parts.append(f"{train['train_runtime']:.1f} s")
    if state.get("global_step"):
        parts.append(f"{state['global_step']} steps")
    if losses:
        parts.append(f"final train loss {losses[-1]:.4f}")
    if "train_loss" in train:
        parts.append(f"mean train loss {train['train_loss']:.4f}")
    return ", ".join(parts) or "-"


def _split_rows(metrics: dict) -> list[list[str]]:
    """One row per split, or the rows the run's task objective lays out (multi-task: per split and task)."""
    splits = {
        split: {k: v for k, v in metrics[split].items() if k not in TIMING_KEYS}
        for split in SPLITS
        if isinstance(metrics.get(split), dict)
    }
    laid_out = objective_class(recorded_objectives(metrics)[-1]).summary_rows(metrics, splits)
    if laid_out is None:
        return _rows(["split"], {(split,): values for split, values in splits.items()})
    return _rows(*laid_out)


def _rows(header: list[str], rows: dict[tuple[str, ...], dict]) -> list[list[str]]:
    columns = list(dict.fromkeys(k for row in rows.values() for k in row))
    columns.sort(key=lambda k: (k != "loss") + (k == "score"))  # loss first, the mean score last
    return [header + columns] + [
        list(key) + [_number(row.get(c)) for c in columns] for key, row in rows.items()
    ]


def summary_table(output_dir: str | Path) -> str:
    """A plain-text summary of a finished run: recipe, model, strategy, parameters, training time and loss, the
    metrics of every split (per task for multi-task) and the plots beside them.

    >>> print(summary_table("outputs/sentiment-minilm_full/20250101-120000"))  # doctest: +SKIP
    run         outputs/sentiment-minilm_full/20250101-120000
    recipe      sentiment-minilm_full
    ...
    split       loss    accuracy  f1
    validation  0.3701  0.8450    0.8462
    test        0.3820  0.8410    0.8392
    plots: confusion_matrix.png, loss_curves.png
    """
    out = Path(output_dir)
    metrics = read_metrics(out)
    try:
        state = trainer_state(out)
    except (OSError, json.JSONDecodeError):
        state = {}
    lines = [format_table(_overview(out, metrics, state))]
    split_rows = _split_rows(metrics)
    if len(split_rows) > 1:
        lines += ["", format_table(split_rows)]
    plots = sorted(path.name for path in out.glob("*.png"))
    lines += [
        "",
        f"plots: {', '.join(plots) if plots else 'none (`hf-transfer report --plots` writes them)'}",
    ]
    return "\n".join(lines)
