"""``compare``: which technique suits *this* recipe's data, measured — candidates × training-set sizes × seeds, each run
in its own process, one after another, then a table, a plot and a recommendation with its rule written out.

Example::

    >>> import hf_transfer
    >>> result = hf_transfer.compare("sentiment/minilm_full", {"candidates": ["lora", "full"], "seeds": 3})
    >>> result.recommendations["all"].recommended
    'lora'
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..cards import render_output_card
from ..config import command_options, parse_recipe, recipe_with_block
from ..errors import RecipeError
from ..run_files import COMPARISON_CARD_FILE, MODEL_CARD_FILE
from ..training.outputs import claim_folder
from .candidates import Candidate, resolve_candidates
from .config import DEFAULT_CANDIDATES, CompareArguments, size_name
from .report import (
    COMPARISON_JSON,
    COMPARISON_MD,
    COMPARISON_PNG,
    plot_comparison,
    render_markdown,
    write_json,
)
from .runs import (
    OK,
    PlannedRun,
    Probe,
    check_budget_recipe,
    drop_probe_folder,
    execute,
    fit_to_budget,
    not_run,
    probe_run,
    read_probe,
    reusable,
    run_recipe,
)
from .summary import Recommendation, Row, higher_is_better, recommend, summarise_rows

logger = logging.getLogger(__name__)
COMPARISON_MARKER = ".hf_transfer_comparison"
RECOMMENDED_DIR = "recommended"
BLOCK = "compare"


@dataclass
class ComparisonResult:
    """What a comparison found: per training-set size (``"250"``, ``"all"``) each candidate's row and the
    recommendation; every run's record; the folder."""

    output_dir: Path
    rows: dict[str, dict[str, Row]]
    recommendations: dict[str, Recommendation]
    records: list[dict[str, Any]]
    recommended_dir: Path | None


def compare_arguments(block: dict[str, Any], given: CompareArguments | dict[str, Any] | None) -> CompareArguments:
    """The recipe's ``compare:`` block with the given options over it (the command line wins)."""
    arguments = command_options(CompareArguments, block, given, "compare", raw=("candidates",))
    if arguments.candidates is not None:
        arguments.candidates = list(arguments.candidates)  # names or mappings
        if not arguments.candidates:
            raise RecipeError("`candidates` is empty: name at least one, e.g. --candidates lora full.")
    return arguments


def ranking_metric(base: dict[str, Any], arguments: CompareArguments) -> tuple[str, str]:
    """``(split, metric)`` that ranks candidates: validation's, or a named evaluation set's
    (``metric_for_best_model: amazon_accuracy`` with ``eval_files: {amazon: ...}``)."""
    metric = arguments.metric or base.get("metric_for_best_model") or (base.get("metrics") or ["accuracy"])[0]
    metric = str(metric).removeprefix("eval_").removeprefix("validation_")
    for name in base.get("eval_files") or {}:
        if metric.startswith(f"{name}_"):
            return name, metric.removeprefix(f"{name}_")
    return "validation", metric


def claim_comparison_dir(path: Path):
    """Create (or reopen) the comparison folder and lock it (see :func:`claim_folder`)."""
    return claim_folder(path, COMPARISON_MARKER, "comparison")


def plan_runs(
    candidates: list[Candidate], base: dict[str, Any], arguments: CompareArguments, root: Path
) -> list[PlannedRun]:
    first_seed = int(base.get("seed", 42))
    seeds = [first_seed + i for i in range(arguments.seeds)]
    limit = base.get("max_train_samples")
    too_large = [size for size in arguments.sizes if size is not None and limit and size >= int(limit)]
    if too_large:
        raise RecipeError(
            f"`train_sizes` {too_large} reach the recipe's max_train_samples ({limit}), which is what `all` "
            "trains on: give smaller sizes, or raise max_train_samples."
        )
    runs = []
    for size in arguments.sizes:
        for candidate in candidates:
            for seed in seeds:
                folder = root / "runs" / size_name(size) / candidate.name / f"seed-{seed}"
                runs.append(PlannedRun(candidate, size, seed, run_recipe(candidate, base, size, seed, folder), folder))
    return runs


def check_runs(runs: list[PlannedRun]) -> None:
    """Every run's recipe (and, with a budget, each probe's) parsed before the first starts: a bad candidate is
    refused before any work."""
    checked = set()
    for run in runs:
        if run.candidate.name in checked:
            continue
        try:
            parse_recipe(run.recipe)
        except RecipeError as err:
            raise RecipeError(f"Compare candidate {run.candidate.name!r}: {err}") from None
        checked.add(run.candidate.name)


def check_metric(record: dict[str, Any], split: str, metric: str) -> None:
    """After the first finished run: the ranking metric exists (else stop now, not after every run)."""
    scores = record.get("metrics", {}).get(split)
    if scores is not None and metric not in scores:
        raise RecipeError(
            f"The runs report no {split} {metric!r} (they report {', '.join(sorted(scores))}): set --metric to one "
            "of those, or metric_for_best_model. Finished runs are kept and reused."
        )


def _run_share(arguments: CompareArguments, runs: list[PlannedRun], probe_seconds: float) -> float | None:
    if arguments.budget_per_run_seconds:
        return arguments.budget_per_run_seconds
    if arguments.budget_seconds:
        left = arguments.budget_seconds - probe_seconds
        if left <= 0:
            raise RecipeError(
                f"--budget {arguments.budget}: the timing probes alone took {probe_seconds:.0f} s. Give a larger "
                "budget, fewer candidates, or compare with equal epochs (no budget)."
            )
        return left / len(runs)
    return None


def _rows(runs: list[PlannedRun], records: dict[Path, dict], arguments, split, metric) -> dict[str, dict[str, Row]]:
    table: dict[str, dict[str, Row]] = {}
    for size in arguments.sizes:
        name = size_name(size)
        table[name] = {}
        for candidate in dict.fromkeys(run.candidate.name for run in runs):
            mine = [records[r.record_path] for r in runs if r.size == size and r.candidate.name == candidate]
            table[name][candidate] = summarise_rows(candidate, mine, metric, split)
    return table


def _rows_per_size(runs: list[PlannedRun], records: dict[Path, dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in runs:
        rows = records[run.record_path].get("rows", {}).get("train")
        if rows:
            counts.setdefault(size_name(run.size), int(rows))
    return counts


def export_recommended(
    root: Path, runs: list[PlannedRun], records, split: str, metric: str, higher: bool, rec: Recommendation, table: str
):
    """Copy the recommended candidate's best-validation seed (largest size) to ``recommended/``, with the comparison
    in its folder and model card. The folder is the comparison's own: a previous copy is replaced."""
    target = root / RECOMMENDED_DIR
    if rec.recommended is None:
        if target.is_dir():  # a previous comparison's copy no longer holds
            shutil.rmtree(target)
        return None
    largest = runs[-1].size
    mine = [
        records[r.record_path] | {"folder": r.folder}
        for r in runs
        if r.size == largest and r.candidate.name == rec.recommended and records[r.record_path].get("status") == OK
    ]
    sign = 1.0 if higher else -1.0
    chosen = max(mine, key=lambda r: sign * r["metrics"].get(split, {}).get(metric, sign * float("-inf")))
    if target.is_dir():
        shutil.rmtree(target)
    shutil.copytree(chosen["folder"], target, ignore=shutil.ignore_patterns("checkpoint-*"))
    (target / COMPARISON_CARD_FILE).write_text(table)
    render_output_card(target).save(target / MODEL_CARD_FILE)
    return target


def compare(
    recipe: str | Path | dict[str, Any],
    arguments: CompareArguments | dict[str, Any] | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    progress: bool = True,
    command: str | None = None,
) -> ComparisonResult:
    """Compare candidates on a recipe's data and model (see :class:`CompareArguments` and the module docstring).

    ``arguments`` (or the recipe's ``compare:`` block) says what to compare; ``overrides`` change the base recipe
    (``["--num_train_epochs", "1"]``). Every candidate's recipe is checked before the first run. Finished runs in
    the comparison folder are reused. Returns a :class:`ComparisonResult`; the files are in its ``output_dir``.
    """
    base, block, name = recipe_with_block(recipe, overrides, BLOCK)
    arguments = compare_arguments(block, arguments)
    candidates = resolve_candidates(list(arguments.candidates or DEFAULT_CANDIDATES), base)
    split, metric = ranking_metric(base, arguments)
    higher = higher_is_better(metric, base.get("greater_is_better"))
    budgeted = bool(arguments.budget or arguments.budget_per_run)
    if budgeted:
        check_budget_recipe(base)
    root = Path(arguments.output_dir or Path("outputs") / "compare" / name)
    runs = plan_runs(candidates, base, arguments, root)
    check_runs(runs)
    if budgeted:
        check_runs([probe_run(c, base, arguments.sizes[-1], runs[0].seed, root, arguments.probe_steps) for c in candidates])
    lock = claim_comparison_dir(root)
    started = time.perf_counter()
    try:
        bar = tqdm(total=len(runs) + (len(candidates) if budgeted else 0), desc="compare", disable=not progress)
        probes: dict[str, Probe] = {}
        probe_errors: dict[str, str] = {}
        if budgeted:
            largest = arguments.sizes[-1]
            for candidate in candidates:
                bar.set_postfix_str(f"probe {candidate.name}")
                probe = probe_run(candidate, base, largest, runs[0].seed, root, arguments.probe_steps)
                record = reusable(probe) or execute(probe)
                drop_probe_folder(probe)
                bar.update(1)
                if record.get("status") != OK:
                    tqdm.write(f"probe of {candidate.name} failed: {record.get('error')}")
                    probe_errors[candidate.name] = f"its timing probe failed: {record.get('error')}"
                    continue
                probes[candidate.name] = read_probe(record)
            share = _run_share(arguments, runs, sum(p.wall_seconds for p in probes.values()))
            for run in runs:
                if run.candidate.name in probes:
                    fit_to_budget(run, probes[run.candidate.name], share)
        records: dict[Path, dict] = {}
        for run in runs:
            bar.set_postfix_str(f"{run.candidate.name} {size_name(run.size)} seed {run.seed}")
            unrunnable = probe_errors.get(run.candidate.name) or run.too_small
            record = not_run(run, unrunnable) if unrunnable else reusable(run)
            if record is None:
                record = execute(run)
                status = "ok" if record.get("status") == OK else f"failed: {record.get('error')}"
                tqdm.write(f"{run.candidate.name} (rows {size_name(run.size)}, seed {run.seed}): {status}")
            if record.get("status") == OK and not any(r.get("status") == OK for r in records.values()):
                check_metric(record, split, metric)
            records[run.record_path] = record
            bar.update(1)
        bar.close()
        table = _rows(runs, records, arguments, split, metric)
        shown_metric = metric if split == "validation" else f"{split} {metric}"
        recommendations = {
            size: recommend(rows, arguments.tolerance, shown_metric, higher) for size, rows in table.items()
        }
        notes = [
            f"{len(candidates)} candidates × {len(arguments.sizes)} training-set size(s) × {arguments.seeds} "
            "seed(s); each run in its own process, one after another.",
            "Mean ± sample std over seeds. Test and target scores are reported, never used to choose.",
            "run s: the whole run (load, tokenise or cache, train, evaluate, save); train s: the Trainer's "
            "train_runtime; peak MiB: the run process's peak resident memory (CUDA: peak allocated).",
        ]
        if budgeted:
            limit = arguments.budget_per_run or f"{arguments.budget} in all"
            notes.append(f"Budget {limit}: a run whose epochs do not fit its share trains the steps that fit "
                         f"(timing probe of {arguments.probe_steps} steps each).")
        else:
            notes.append("Equal epochs: every candidate trains the recipe's epochs.")
        shown = command or f"hf-transfer compare {name}"
        markdown = render_markdown(f"Comparison: {name}", shown, shown_metric, table, recommendations, notes)
        largest = size_name(arguments.sizes[-1])
        (root / COMPARISON_MD).write_text(markdown)
        recommended = export_recommended(
            root, runs, records, split, metric, higher, recommendations[largest], markdown
        )
        payload = {
            "recipe": name,
            "command": shown,
            "metric": f"{split}/{metric}",
            "higher_is_better": higher,
            "arguments": {**dataclasses.asdict(arguments)},
            "candidates": [dataclasses.asdict(c) for c in candidates],
            "sizes": {size: {c: row.to_dict() for c, row in rows.items()} for size, rows in table.items()},
            "recommendations": {size: rec.to_dict() for size, rec in recommendations.items()},
            "recommended_dir": str(recommended) if recommended else None,
            "probes": {name: dataclasses.asdict(probe) for name, probe in probes.items()},
            "runs": list(records.values()),
            "seconds": time.perf_counter() - started,
        }
        write_json(root / COMPARISON_JSON, payload)
        if any(row.mean is not None for rows in table.values() for row in rows.values()):
            plot_comparison(root / COMPARISON_PNG, table, shown_metric, _rows_per_size(runs, records))
    finally:
        lock.close()
    return ComparisonResult(root, table, recommendations, list(records.values()), recommended)
