"""Choosing parameters by name: glob / full-match regex patterns, with errors that list nearby names.

A pattern selects a parameter when it matches the parameter's full name, or one of its module prefixes
(``bert.encoder.layer.5`` selects every parameter of that block). It is tried as a glob (``fnmatch``, e.g.
``*.attention.*``) and as a full-match regular expression (e.g. ``bert\\.encoder\\.layer\\.[45]\\..*``).

Example::

    >>> select_parameters(model, ["bert.encoder.layer.[45].*"])     # the top two BERT-base-6 blocks
    {'bert.encoder.layer.4.attention.self.query.weight', ...}
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import re
from collections.abc import Iterable

from torch import nn

from ..errors import StrategyError


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether ``pattern`` (glob or full-match regex) matches ``name`` or one of its module prefixes."""
    regex = _regex(pattern)
    for candidate in _prefixes(name):
        if fnmatch.fnmatchcase(candidate, pattern) or (regex is not None and regex.fullmatch(candidate)):
            return True
    return False


def nearest_names(pattern: str, names: Iterable[str], n: int = 5) -> list[str]:
    """Module and parameter names closest to a pattern that matched nothing."""
    pool = sorted({prefix for name in names for prefix in _prefixes(name)})
    plain = re.sub(r"[\\*?\[\]^$()+{}|]", "", pattern)
    return difflib.get_close_matches(plain, pool, n=n, cutoff=0.4)


def select_parameters(model: nn.Module, patterns: Iterable[str], role: str = "include") -> set[str]:
    """Names of the parameters matched by any pattern; a pattern matching nothing is a StrategyError."""
    names = [name for name, _ in model.named_parameters()]
    selected: set[str] = set()
    for pattern in patterns:
        matched = {name for name in names if pattern_matches(pattern, name)}
        if not matched:
            near = nearest_names(pattern, names)
            raise StrategyError(
                f"The {role} pattern {pattern!r} matches no parameter of {type(model).__name__}. "
                f"Nearest names: {', '.join(near) if near else '(none)'}. Patterns are globs or full-match regexes "
                "on parameter or module names; `hf-transfer inspect MODEL` lists them."
            )
        selected |= matched
    return selected
