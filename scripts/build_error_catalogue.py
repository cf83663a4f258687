"""Build ``docs/errors.md`` (and ``docs/errors.json``) from the bad-input cases of tests/test_error_catalogue.py.

Runs every case with ``HF_TRANSFER_WRITE_ERRORS=1`` (each writes the exact message it produced), then renders
the table. The test suite checks that every case still produces the documented message.

    python scripts/build_error_catalogue.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FRAGMENTS = DOCS / ".errors"
AREAS = {
    "recipe": "Recipe keys and values",
    "files": "Files and columns",
    "labels": "Labels",
    "models": "Models and checkpoints",
    "strategies": "Strategies",
    "adaptation": "Domain adaptation",
    "multitask": "Multi-task",
    "images": "Images",
    "outputs": "Output folders",
    "resume": "Resuming",
    "compare": "Compare and tune",
    "publishing": "Publishing, predicting, evaluating",
}
HEADER = """# Bad inputs and what you see

Every row is a test (`tests/test_error_catalogue.py`): the input is refused with the exception named, before
training starts and without writing or deleting anything; the CLI exits with status 2 and prints the message as
one line, `hf-transfer <command>: error: <message>`, with no traceback. `<dir>` stands for the folder of the case
`<model>` for the tiny test checkpoint and `<repo>` for the project's folder. From Python, catch `hf_transfer.errors.HfTransferError` (a
`ValueError`) or the subclass named.

Regenerate after changing a message: `python scripts/build_error_catalogue.py`.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict]) -> str:
    """The markdown page for the catalogue rows, one table per area."""
    parts = [HEADER]
    for area, title in AREAS.items():
        chosen = [row for row in rows if row["area"] == area]
        if not chosen:
            continue
        parts.append(f"\n## {title}\n\n| bad input | exception | message |\n| --- | --- | --- |\n")
        parts.extend(
            f"| {_cell(row['bad_input'])} | `{row['exception']}` | {_cell(row['message'])} |\n"
            for row in chosen
        )
    parts.append(f"\n{len(rows)} bad inputs.\n")
    return "".join(parts)


def main() -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    shutil.rmtree(FRAGMENTS, ignore_errors=True)
    env = {**os.environ, "HF_TRANSFER_WRITE_ERRORS": "1", "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        str(ROOT / "tests" / "test_error_catalogue.py"),
        "-k",
        "test_a_bad_input",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env)
    if done.returncode != 0:
        print("Some cases failed: fix them before building the catalogue.", file=sys.stderr)
        return 1
    from test_error_catalogue import CASES

    rows = [json.loads((FRAGMENTS / f"{case.id}.json").read_text(encoding="utf-8")) for case in CASES]
    shutil.rmtree(FRAGMENTS)
    (DOCS / "errors.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (DOCS / "errors.md").write_text(render(rows), encoding="utf-8")
    print(f"Wrote {len(rows)} rows to docs/errors.md and docs/errors.json.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
