"""What a comparison writes: ``comparison.json`` (everything), ``comparison.md`` (a table per training-set size with
the recommendation and its rule) and ``comparison.png`` (the ranking metric against run time and against trainable
parameters, seed std as error bars; with several sizes a third panel against training rows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .summary import Recommendation, Row

COMPARISON_JSON, COMPARISON_MD, COMPARISON_PNG = "comparison.json", "comparison.md", "comparison.png"


def _score(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "-"
    return f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}"


def _count(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value:,.0f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown_table(rows: dict[str, Row], metric: str, recommendation: Recommendation) -> str:
    """One size's table: the ranking score, every reported score, costs, budget cuts and failures."""
    keys = [k for k in dict.fromkeys(k for row in rows.values() for k in row.reported) if k != f"validation/{metric}"]
    header = ["candidate", metric if " " in metric else f"validation {metric}", *keys, "trainable", "run s", "train s", "peak MiB", "steps", "note"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows.values():
        notes = []
        if row.name == recommendation.recommended:
            notes.append("**recommended**")
        if row.name == recommendation.best and row.name != recommendation.recommended:
            notes.append("best")
        elif row.name in recommendation.within_noise and row.name != recommendation.recommended:
            notes.append("within noise")
        if row.cut_short:
            notes.append("cut short by the budget")
        notes += [f"failed ({error})" for error in row.errors]
        peak = row.peak_cuda_mib if row.peak_cuda_mib is not None else row.peak_rss_mib
        cells = [
            f"`{row.name}`",
            _score(row.mean, row.std) + (f" (n={len(row.scores)})" if row.scores else ""),
            *[_score(*row.reported.get(k, (None, None))) for k in keys],
            _count(row.trainable),
            _seconds(row.run_seconds),
            _seconds(row.train_seconds),
            "-" if peak is None else f"{peak:,.0f}" + (" (CUDA)" if row.peak_cuda_mib is not None else ""),
            row.steps or "-",
            "; ".join(notes).replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recommendation_line(recommendation: Recommendation, rows: dict[str, Row], metric: str) -> str:
    if recommendation.recommended is None:
        return "No candidate finished: no recommendation."
    best, chosen = rows[recommendation.best], rows[recommendation.recommended]
    if chosen.name == best.name:
        return f"**Recommended: `{chosen.name}`**, the best mean validation {metric} ({_score(best.mean, best.std)})."
    return (
        f"**Recommended: `{chosen.name}`** ({_score(chosen.mean, chosen.std)}, {_seconds(chosen.run_seconds)} s a "
        f"run): within the noise of the best, `{best.name}` ({_score(best.mean, best.std)}, "
        f"{_seconds(best.run_seconds)} s), and cheaper."
    )


def render_markdown(
    title: str,
    command: str,
    metric: str,
    sizes: dict[str, dict[str, Row]],
    recommendations: dict[str, Recommendation],
    notes: list[str],
) -> str:
    parts = [f"# {title}", "", f"`{command}`", ""]
    rule = next(iter(recommendations.values())).rule if recommendations else ""
    parts += [f"Rule: {rule}.", ""]
    parts += [f"- {note}" for note in notes]
    for size, rows in sizes.items():
        parts += ["", f"## Training rows: {size}", "", markdown_table(rows, metric, recommendations[size]), ""]
        parts.append(recommendation_line(recommendations[size], rows, metric))
    return "\n".join(parts).strip() + "\n"


def _figure(panels: int) -> Figure:
    figure = Figure(figsize=(5.0 * panels, 4.0))
    FigureCanvasAgg(figure)
    return figure


def plot_comparison(path: Path, sizes: dict[str, dict[str, Row]], metric: str, rows_per_size: dict[str, int]) -> Path:
    """The largest size: metric against run time and trainable parameters; with several sizes, metric against rows."""
    largest = list(sizes)[-1]
    panels = 3 if len(sizes) > 1 else 2
    figure = _figure(panels)
    axes = figure.subplots(1, panels)
    for row in sizes[largest].values():
        if row.mean is None:
            continue
        error = row.std or 0.0
        for axis, x in ((axes[0], row.run_seconds), (axes[1], row.trainable)):
            if x is not None:
                axis.errorbar([x], [row.mean], yerr=[error], fmt="o", capsize=4, label=row.name)
                axis.annotate(row.name, (x, row.mean), textcoords="offset points", xytext=(5, 5), fontsize=8)
    axes[0].set(xlabel="run time per seed (s)", ylabel=f"validation {metric}", title=f"{largest} training rows")
    axes[1].set(xlabel="trainable parameters", ylabel=f"validation {metric}", xscale="log")
    axes[1].set_title(f"{largest} training rows")
    if panels == 3:
        names = list(dict.fromkeys(name for rows in sizes.values() for name in rows))
        for name in names:
            points = [
                (rows_per_size[size], rows[name].mean, rows[name].std or 0.0)
                for size, rows in sizes.items()
                if name in rows and rows[name].mean is not None and size in rows_per_size
            ]
            if points:
                xs, ys, es = zip(*points, strict=True)
                axes[2].errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=name)
        axes[2].set(xlabel="training rows", ylabel=f"validation {metric}", xscale="log", title="metric against size")
        ticks = sorted(set(rows_per_size.values()))
        axes[2].set_xticks(ticks, [f"{t:,}" for t in ticks])  # the sizes themselves, no overlapping log minor labels
        axes[2].minorticks_off()
        axes[2].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    figure.clear()
    return path


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
