"""Reading a finished run folder: ``metrics.json``, ``trainer_state.json``, the test predictions, and the
confusion counts the run's task objective pairs from them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputDirError
from ..objectives import objective_class, recorded_objectives
from ..run_files import METRICS_FILE, PREDICTIONS_FILE, STATE_FILE


def read_metrics(output_dir: str | Path) -> dict[str, Any]:
    """A run's ``metrics.json``; an :class:`~hf_transfer.errors.OutputDirError` naming the fix when the folder is
    not a finished run.

    >>> read_metrics("outputs/sentiment-minilm_full/20250101-120000")["test"]["accuracy"]  # doctest: +SKIP
    0.84...
    """
    out = Path(output_dir)
    if not out.is_dir():
        raise OutputDirError(f"No folder {out}: pass the output_dir of a finished `hf-transfer train` run.")
    path = out / METRICS_FILE
    if not path.is_file():
        inside = sorted(p.parent.name for p in out.glob(f"*/{METRICS_FILE}"))[:5]
        hint = f" Run folders inside it: {', '.join(inside)}." if inside else ""
        raise OutputDirError(
            f"{out} holds no {METRICS_FILE}, so it is not a finished run (a run writes it when training ends). "
            f"Pass the run's output_dir (outputs/<recipe>/<timestamp>), not a checkpoint or parent folder.{hint}"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise OutputDirError(f"{path} is not valid JSON ({err}); rerun the training to rewrite it.") from err


def trainer_state(out: Path) -> dict[str, Any]:
    """``trainer_state.json`` (empty when the run saved none)."""
    path = out / STATE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``predictions_test.jsonl`` (empty when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def confusion_counts(pairs: Iterable[tuple[str, str]], labels: list[str]) -> tuple[list[str], np.ndarray]:
    """Class names and counts (rows true, columns predicted); a name outside ``labels`` gets its own row.

    >>> names, counts = confusion_counts([("a", "a"), ("a", "b"), ("b", "b")], ["a", "b"])
    >>> counts.tolist()
    [[1, 1], [0, 1]]
    """
    pairs = list(pairs)
    names = list(dict.fromkeys([*labels, *(name for pair in pairs for name in pair)]))
    index = {name: i for i, name in enumerate(names)}
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for true, predicted in pairs:
        counts[index[true], index[predicted]] += 1
    return names, counts


def confusion_matrices(output_dir: str | Path) -> dict[str | None, tuple[list[str], np.ndarray]]:
    """Test-set confusion matrices from a run's predictions: ``{None: ...}`` for a single-task classifier, or one
    per single-label classification task of a multi-task model (tasks without labelled test rows left out)."""
    out = Path(output_dir)
    records = read_predictions(out / PREDICTIONS_FILE)
    if not records or not (out / METRICS_FILE).is_file():
        return {}
    metrics = read_metrics(out)
    task = objective_class(recorded_objectives(metrics)[-1])
    return {
        name: confusion_counts(pairs, labels)
        for name, (labels, pairs) in task.confusion_pairs(metrics, records).items()
    }
