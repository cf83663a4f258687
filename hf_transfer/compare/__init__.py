"""``hf-transfer compare``: candidates (strategies, adaptation methods, recipes) run on one recipe's data and model,
over seeds and training-set sizes, under an optional budget; a table, a plot and a recommendation."""

from .candidates import PRESETS, Candidate, resolve_candidate, resolve_candidates
from .comparison import ComparisonResult, compare
from .config import CompareArguments, parse_duration
from .summary import Recommendation, Row, recommend

__all__ = [
    "PRESETS",
    "Candidate",
    "CompareArguments",
    "ComparisonResult",
    "Recommendation",
    "Row",
    "compare",
    "parse_duration",
    "recommend",
    "resolve_candidate",
    "resolve_candidates",
]
