"""Plain-text tables, shared by the command line and the run report.

Example::

    >>> print(format_table([["split", "accuracy"], ["test", "0.8348"]]))
    split  accuracy
    test   0.8348
"""

from __future__ import annotations

# Trainer metrics about speed, not quality: left out of result tables and model cards.
TIMING_KEYS = frozenset({"runtime", "samples_per_second", "steps_per_second", "epoch"})


def format_table(rows: list[list[str]]) -> str:
    """Rows of cells as left-aligned columns (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )
