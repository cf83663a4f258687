"""Errors raised by hf_transfer. Each message names the problem and the fix.

All derive from :class:`HfTransferError` (a ``ValueError``), so callers can catch one type.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HfTransferError(ValueError):
    """Base class of every error hf_transfer raises on bad input."""


class RecipeError(HfTransferError):
    """A recipe (YAML or CLI) has an unknown key or an invalid value."""


class DataError(HfTransferError):
    """A dataset cannot be loaded or does not have the columns, labels or rows a recipe needs."""


class ModelResolutionError(HfTransferError):
    """A model id or path cannot be resolved to a checkpoint (offline, not installed, misspelt)."""


class OutputDirError(HfTransferError):
    """An output directory already holds results and overwriting was not asked for."""


class StrategyError(HfTransferError):
    """A transfer strategy is unknown or its options are invalid."""


class PushError(HfTransferError):
    """Exporting or uploading a trained model to the Hugging Face Hub failed (the message says how to retry)."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``name`` (by difflib ratio, then by shared prefix)."""
    candidates = list(candidates)
    matches = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not matches:
        matches = [c for c in candidates if c.startswith(name[:3]) or name.startswith(c[:3])][:n]
    return matches


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x' or 'y'?`` or an empty string when nothing is close."""
    matches = closest(name, candidates)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


def unknown_keys(keys: Iterable[str], valid: Iterable[str]) -> str:
    """The keys not in ``valid``, each with its closest valid names: ``'lr': Did you mean 'learning_rate'?``
    (empty when every key is valid)."""
    valid = list(valid)
    return "; ".join(
        f"{key!r}:{did_you_mean(key, valid) or ' no close match.'}" for key in keys if key not in valid
    )
