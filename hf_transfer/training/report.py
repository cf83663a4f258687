"""Run reports: PNG plots beside a run's metrics, and a plain-text summary of the run.

Everything is read from the files a run saved (``trainer_state.json``, ``metrics.json``,
``predictions_test.jsonl``), so a report can be made again for any finished run folder.

Example::

    >>> from hf_transfer.training.report import summary_table, write_run_report
    >>> write_run_report("outputs/sentiment-minilm_full/20250101-120000")
    {'loss_curves': 'loss_curves.png', 'confusion_matrix': 'confusion_matrix.png'}
    >>> print(summary_table("outputs/sentiment-minilm_full/20250101-120000"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputDirError
from ..tables import TIMING_KEYS, format_table
from .outputs import METRICS_FILE, PREDICTIONS_FILE

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
LOSS_PLOT = "loss_curves.png"
CONFUSION_PLOT = "confusion_matrix.png"
SPLITS = ("validation", "test", "target_test")
DOMAIN_PARTS = ("task_loss", "domain_loss", "domain_accuracy")
MAX_TICK_LABELS = 50  # a confusion matrix names its classes up to this many
MAX_ANNOTATED = 25  # and writes its counts in the cells up to this many

Series = tuple[list[float], list[float]]


# -- reading a run folder ------------------------------------------------------------------------------


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


def _trainer_state(out: Path) -> dict[str, Any]:
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


# -- confusion matrices ---------------------------------------------------------------------------------


def prediction_pairs(
    records: Iterable[dict], labels: list[str], task: str | None = None
) -> list[tuple[str, str]]:
    """``(true, predicted)`` label names of every labelled row: a single-task row's ``label`` / ``prediction``,
    or with ``task`` a multi-task row's ``{task: {"true", "label"}}`` (rows without the task's label skipped).

    >>> prediction_pairs([{"text": "ok", "label": "pos", "prediction": "neg", "score": 0.6}], ["neg", "pos"])
    [('pos', 'neg')]
    """
    pairs = []
    for record in records:
        if task is None:
            true, predicted = record.get("label"), record.get("prediction")
        else:
            entry = record.get(task) or {}
            true, predicted = entry.get("true"), entry.get("label")
        if true is not None and predicted is not None:
            pairs.append((_label_name(true, labels), str(predicted)))
    return pairs


def _label_name(value: Any, labels: list[str]) -> str:
    """A true label as a class name: a class id (from a ``ClassLabel`` column) indexes ``labels``."""
    is_id = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(labels)
    return labels[value] if is_id and str(value) not in labels else str(value)


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
    if "multitask" not in metrics:
        return {None: confusion_counts(prediction_pairs(records, metrics["labels"]), metrics["labels"])}
    matrices = {}
    for task in metrics["multitask"]["tasks"]:
        if task["kind"] != "single_label_classification":
            continue
        pairs = prediction_pairs(records, task["labels"], task["name"])
        if pairs:
            matrices[task["name"]] = confusion_counts(pairs, task["labels"])
    return matrices


# -- plots --------------------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    """A figure drawn by Agg, outside pyplot (no global backend or figure registry to clean up)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: same run, same bytes
    figure.clear()


def plot_confusion_matrix(labels: list[str], counts: np.ndarray, path: str | Path, title: str) -> Path:
    """One confusion matrix: rows true, columns predicted, counts in the cells, class names on the axes.

    >>> plot_confusion_matrix(["neg", "pos"], np.array([[5, 1], [2, 4]]), "cm.png", "sentiment")
    PosixPath('cm.png')
    """
    n = len(labels)
    side = min(12.0, max(4.0, 2.5 + 0.5 * n))
    figure = _figure(side + 1.2, side)
    axis = figure.subplots()
    image = axis.imshow(counts, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    if n <= MAX_TICK_LABELS:
        axis.set_xticks(range(n), labels, rotation=45, ha="right", rotation_mode="anchor")
        axis.set_yticks(range(n), labels)
    if n <= MAX_ANNOTATED:
        for (row, column), count in np.ndenumerate(counts):
            colour = "white" if count > counts.max() / 2 else "black"
            axis.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=9)
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else 0.0
    axis.set(xlabel="predicted", ylabel="true", title=f"{title}\n{total} test rows, accuracy {accuracy:.1%}")
    _save(figure, Path(path))
    return Path(path)


@dataclass
class _Panel:
    title: str
    ylabel: str
    lines: dict[str, Series]
    twin: dict[str, Series] = field(default_factory=dict)
    twin_label: str = ""


def _series(history: list[dict], key: str) -> Series:
    points = [(e["step"], e[key]) for e in history if isinstance(e.get(key), (int, float)) and "step" in e]
    return [s for s, _ in points], [v for _, v in points]


def _keys_with(history: list[dict], prefix: str) -> list[str]:
    """The logged keys starting with ``prefix`` (e.g. ``loss_<task>``), in order of first appearance."""
    return list(dict.fromkeys(k for e in history for k in e if k.startswith(prefix)))


def _loss_panels(history: list[dict]) -> list[_Panel]:
    """Train / eval loss; domain-adaptation parts with λ; per-task losses with their weights (where logged)."""
    adapted = any("task_loss" in e for e in history)
    train_label = "train loss (task + domain)" if adapted else "train loss"
    panels = [
        _Panel(
            "Loss",
            "loss",
            {train_label: _series(history, "loss"), "eval loss": _series(history, "eval_loss")},
        ),
        _Panel(
            "Domain adaptation",
            "loss / accuracy",
            {key.replace("_", " "): _series(history, key) for key in DOMAIN_PARTS},
            {"λ": _series(history, "lambda")},
            "λ",
        ),
        _Panel(
            "Per-task training loss",
            "loss",
            {k[len("loss_") :]: _series(history, k) for k in _keys_with(history, "loss_")},
            {f"weight {k[len('weight_') :]}": _series(history, k) for k in _keys_with(history, "weight_")},
            "weight",
        ),
    ]
    for panel in panels:
        panel.lines = {name: s for name, s in panel.lines.items() if s[0]}
        panel.twin = {name: s for name, s in panel.twin.items() if s[0]}
    return [panel for panel in panels if panel.lines or panel.twin]


def _draw_panel(axis, panel: _Panel) -> None:
    """Lines on the left axis, the twin series dashed on the right (a task's weight in its loss's colour)."""
    from matplotlib.ticker import MaxNLocator

    marker = "o" if max(len(s[0]) for s in [*panel.lines.values(), *panel.twin.values()]) <= 30 else None
    names = list(panel.lines)
    handles = [axis.plot(*s, marker=marker, markersize=3, label=name)[0] for name, s in panel.lines.items()]
    if panel.twin:
        twin = axis.twinx()
        for i, (name, s) in enumerate(panel.twin.items(), start=len(names)):
            task = name.split(" ", 1)[-1]
            colour = f"C{names.index(task) if task in names else i}"
            handles += twin.plot(*s, linestyle="--", marker=marker, markersize=3, color=colour, label=name)
        twin.set_ylabel(panel.twin_label)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set(title=panel.title, xlabel="step", ylabel=panel.ylabel)
    axis.grid(alpha=0.3)
    axis.legend(handles=handles, loc="best", fontsize=8)


def plot_loss_curves(history: list[dict], path: str | Path) -> bool:
    """Loss curves from a ``log_history``, one panel per group of logged values; ``False`` (nothing written)
    when nothing was logged.

    >>> plot_loss_curves([{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.6, "eval_loss": 0.65}], "loss.png")
    True
    """
    panels = _loss_panels(history)
    if not panels:
        return False
    figure = _figure(7.5, 3.3 * len(panels))
    for axis, panel in zip(figure.subplots(len(panels), 1, squeeze=False)[:, 0], panels, strict=True):
        _draw_panel(axis, panel)
    _save(figure, Path(path))
    return True


def _attempt(what: str, make: Callable[[], Any]) -> Any:
    """Run one part of a report; a failure is logged, never raised (a report must not fail a run)."""
    try:
        return make()
    except Exception:
        logger.warning("Run report: could not write %s.", what, exc_info=True)
        return None


def confusion_plot_name(task: str | None = None) -> str:
    """``confusion_matrix.png``, or for a multi-task model's task ``confusion_matrix_<task>.png``."""
    return CONFUSION_PLOT if task is None else "confusion_matrix_" + re.sub(r"[^\w.-]", "_", task) + ".png"


def _confusion_plots(out: Path) -> dict[str, str]:
    written = {}
    matrices = _attempt("the confusion matrices", partial(confusion_matrices, out)) or {}
    for task, (labels, counts) in matrices.items():
        filename = confusion_plot_name(task)
        title = "Confusion matrix" if task is None else f"Confusion matrix: {task}"
        draw = partial(plot_confusion_matrix, labels, counts, out / filename, title)
        if _attempt(filename, draw):
            written[filename[: -len(".png")]] = filename
    return written


def write_run_report(output_dir: str | Path) -> dict[str, str]:
    """Write a run's plots beside its metrics, from its saved files: ``loss_curves.png`` and a confusion matrix
    per classification task (``confusion_matrix.png``, or ``confusion_matrix_<task>.png`` for multi-task).
    Missing files mean fewer plots; nothing here raises. Returns ``{name: filename}`` of the plots written.

    >>> write_run_report("outputs/sentiment-minilm_full/20250101-120000")  # doctest: +SKIP
    {'loss_curves': 'loss_curves.png', 'confusion_matrix': 'confusion_matrix.png'}
    """
    out = Path(output_dir)
    if not out.is_dir():
        logger.warning("Run report: no folder %s.", out)
        return {}
    written = {}
    history = (_attempt(STATE_FILE, lambda: _trainer_state(out)) or {}).get("log_history", [])
    if _attempt(LOSS_PLOT, lambda: plot_loss_curves(history, out / LOSS_PLOT)):
        written["loss_curves"] = LOSS_PLOT
    written.update(_confusion_plots(out))
    return written


# -- the summary table --------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _overview(out: Path, metrics: dict, state: dict) -> list[list[str]]:
    strategy = metrics.get("strategy") or {}
    kind = strategy.get("type", "?") if isinstance(strategy, dict) else str(strategy)
    adaptation = (metrics.get("domain_adaptation") or {}).get("config", {}).get("type")
    tasks = [task["name"] for task in (metrics.get("multitask") or {}).get("tasks", [])]
    kind += (f", {adaptation} domain adaptation" if adaptation else "") + (
        f", multi-task: {', '.join(tasks)}" if tasks else ""
    )
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
    losses = _series(state.get("log_history", []), "loss")[1]
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
    """One row per split (single task), or per split and task plus the split's means (multi-task)."""
    splits = [split for split in SPLITS if isinstance(metrics.get(split), dict)]
    tasks = [task["name"] for task in (metrics.get("multitask") or {}).get("tasks", [])]
    if not tasks:
        values = {
            split: {k: v for k, v in metrics[split].items() if k not in TIMING_KEYS} for split in splits
        }
        return _rows(["split"], {(split,): values[split] for split in splits})
    return _rows(
        ["split", "task"],
        {key: row for split in splits for key, row in _task_rows(split, metrics[split], tasks)},
    )


def _task_rows(split: str, values: dict, tasks: list[str]) -> list[tuple[tuple[str, str], dict]]:
    by_length = sorted(tasks, key=len, reverse=True)  # task "a_b" before task "a"
    rows: dict[str, dict] = {task: {} for task in tasks}
    means: dict[str, Any] = {}
    for key, value in values.items():
        if key in TIMING_KEYS:
            continue
        task = next((t for t in by_length if key.startswith(t + "_")), None)
        if task is not None:
            rows[task][key[len(task) + 1 :]] = value
        elif key.startswith("mean_"):
            means["score" if key == "mean_score" else key[len("mean_") :]] = value
        else:
            means[key] = value
    return [((split, task), row) for task, row in rows.items() if row] + [((split, "all tasks"), means)]


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
        state = _trainer_state(out)
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
