"""Run plots: loss curves (with loss parts, λ and task weights where logged) and confusion matrices, as PNGs
beside a run's metrics, drawn from its saved files only.

Example::

    >>> from hf_transfer.report import write_run_report
    >>> write_run_report("outputs/sentiment-minilm_full/20250101-120000")
    {'loss_curves': 'loss_curves.png', 'confusion_matrix': 'confusion_matrix.png'}
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..run_files import CONFUSION_PLOT, LOSS_PLOT, STATE_FILE
from .reading import confusion_matrices, trainer_state

logger = logging.getLogger(__name__)

DOMAIN_PARTS = ("task_loss", "domain_loss", "domain_accuracy")
MAX_TICK_LABELS = 50  # a confusion matrix names its classes up to this many
MAX_ANNOTATED = 25  # and writes its counts in the cells up to this many

Series = tuple[list[float], list[float]]


def _figure(width: float, height: float):
    """A figure drawn by Agg, outside pyplot (no global backend or figure registry to clean up)."""
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


def series(history: list[dict], key: str) -> Series:
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
            {train_label: series(history, "loss"), "eval loss": series(history, "eval_loss")},
        ),
        _Panel(
            "Domain adaptation",
            "loss / accuracy",
            {key.replace("_", " "): series(history, key) for key in DOMAIN_PARTS},
            {"λ": series(history, "lambda")},
            "λ",
        ),
        _Panel(
            "Per-task training loss",
            "loss",
            {k[len("loss_") :]: series(history, k) for k in _keys_with(history, "loss_")},
            {f"weight {k[len('weight_') :]}": series(history, k) for k in _keys_with(history, "weight_")},
            "weight",
        ),
    ]
    for panel in panels:
        panel.lines = {name: s for name, s in panel.lines.items() if s[0]}
        panel.twin = {name: s for name, s in panel.twin.items() if s[0]}
    return [panel for panel in panels if panel.lines or panel.twin]


def _draw_panel(axis, panel: _Panel) -> None:
    """Lines on the left axis, the twin series dashed on the right (a task's weight in its loss's colour)."""
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
    history = (_attempt(STATE_FILE, lambda: trainer_state(out)) or {}).get("log_history", [])
    if _attempt(LOSS_PLOT, lambda: plot_loss_curves(history, out / LOSS_PLOT)):
        written["loss_curves"] = LOSS_PLOT
    written.update(_confusion_plots(out))
    return written
