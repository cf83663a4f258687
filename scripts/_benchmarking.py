"""Plumbing shared by the benchmark scripts: hardware facts, one run per child process, merging reruns.

A benchmark script calls :func:`run_specs` with its run specs (JSON-able dicts); each spec runs as
``python SCRIPT --child JSON`` in a fresh process (no state leaks between runs), and the script's own ``--child``
branch calls :func:`child_entry` with its ``run_one(spec) -> dict``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def hardware(processor: bool = False) -> dict:
    """The machine facts every benchmark JSON records."""
    facts = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}
    if processor:
        facts["processor"] = platform.processor()
    return facts


def child_entry(child: str, run_one: Callable[[dict], dict]) -> int:
    """In the child process: run one spec and write its result where the parent asked."""
    spec = json.loads(child)
    Path(spec.pop("result_file")).write_text(json.dumps(run_one(spec)))
    return 0


def run_child(script: str, spec: dict) -> dict:
    """Run ``script --child SPEC`` offline in a fresh process and return the result it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "result.json"
        child = json.dumps({**spec, "result_file": str(result_file)})
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        subprocess.run([sys.executable, script, "--child", child], check=True, env=env)
        return json.loads(result_file.read_text())


def previous_runs(
    output: Path, merge: bool, specs: list[dict], key: Callable[[dict], tuple], command: str
) -> tuple[list[dict], list[str]]:
    """The runs and commands already in ``output`` (with ``merge``), minus the runs ``specs`` will redo."""
    if not (merge and output.exists()):
        return [], [command]
    previous = json.loads(output.read_text())
    redone = {key(spec) for spec in specs}
    runs = [run for run in previous["runs"] if key(run) not in redone]
    return runs, [*previous.get("commands", [previous.get("command")]), command]


def run_specs(
    script: str, specs: list[dict], runs: list[dict], save: Callable[[list[dict]], object]
) -> list[dict]:
    """Run every spec in its own process, appending to ``runs`` and saving after each (nothing is lost if a
    later run fails)."""
    for spec in specs:
        print(f"== {spec}", flush=True)
        runs.append(run_child(script, spec))
        print(json.dumps(runs[-1]), flush=True)
        save(runs)
    return runs


PRIOR = "+em"  # the suffix of a method's row after `prior_correction: em` (the same runs, corrected heads)


def with_prior_rows(runs: list[dict]) -> list[dict]:
    """Each adapted run twice: as trained, and as ``<method>+em`` with its prior-corrected target accuracy."""
    rows = []
    for run in runs:
        rows.append(run)
        if "target_accuracy_em" in run:
            rows.append(
                {**run, "method": run["method"] + PRIOR, "target_accuracy": run["target_accuracy_em"]}
            )
    return rows


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def adaptation_rows(runs: list[dict], methods: list[str], seconds_key: str = "seconds") -> dict[str, dict]:
    """One domain pair's runs summarised per method (then ``in_domain``): target accuracy mean ± std over seeds,
    the means of source accuracy, proxy A-distances and ``seconds_key``, and ``gap_closed``: the share of the
    ``source_only`` → ``in_domain`` gap a method closes."""
    rows = {}
    for method in [*methods, "in_domain"]:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        accuracies = [r["target_accuracy"] for r in mine]
        rows[method] = {
            "mean": statistics.mean(accuracies),
            "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
            "runs": len(accuracies),
            "source_test_accuracy": _mean(r["source_test_accuracy"] for r in mine),
            "proxy_a_distance_before": _mean(r["proxy_a_distance_before"] for r in mine),
            "proxy_a_distance_after": _mean(r["proxy_a_distance_after"] for r in mine),
            seconds_key: _mean(r[seconds_key] for r in mine),
            "target_entropy": _mean(
                r.get("target_entropy") for r in mine
            ),  # label-free: lower, more confident
        }
    baseline = rows.get("source_only")  # the same wrapper and batches, domain loss off
    if baseline and "in_domain" in rows:
        gap = rows["in_domain"]["mean"] - baseline["mean"]
        for row in rows.values():
            row["gap_closed"] = (row["mean"] - baseline["mean"]) / gap if gap > 0 else None
    return rows


def print_adaptation_table(summary: dict[str, dict], label: str, width: int) -> None:
    """Target accuracy, gap closed and proxy A-distances per domain pair (``label`` column) and method."""
    print(f"\n{label:<{width}}{'method':<20}{'target acc':>16}{'gap closed':>12}{'PAD before→after':>20}")
    for pair, rows in summary.items():
        for method, row in rows.items():
            closed = f"{100 * row['gap_closed']:.0f}%" if row.get("gap_closed") is not None else "-"
            pad = (
                f"{row['proxy_a_distance_before']:.2f} → {row['proxy_a_distance_after']:.2f}"
                if row["proxy_a_distance_after"] is not None
                else "-"
            )
            print(
                f"{pair:<{width}}{method:<20}{100 * row['mean']:>9.2f} ± {100 * row['std']:.2f}{closed:>12}{pad:>20}"
            )
