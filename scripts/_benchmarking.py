"""Plumbing shared by the benchmark scripts: hardware facts, one run per child process, merging reruns.

A benchmark script calls :func:`run_specs` with its run specs (JSON-able dicts); each spec runs as
``python SCRIPT --child JSON`` in a fresh process (no state leaks between runs), and the script's own ``--child``
branch calls :func:`child_entry` with its ``run_one(spec) -> dict``.
"""

from __future__ import annotations

import json
import os
import platform
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
