"""Stage kinds and their registry: what one stage of a recipe does.

A recipe without ``stages:`` is one ``train`` stage in its output folder. With ``stages:``, each entry names a
registered kind (``kind: train``), optionally a ``name``, the kind's options (its :attr:`StageKind.options`
dataclass) and overrides of any recipe key; the stages run in order in ``stages/<n>-<name>/`` and each starts from
the previous one's saved model. Adding a stage kind (continued pretraining, self-training rounds) is one module
with a :class:`StageKind` subclass and :func:`register_stage_kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..registry import first_lines, lookup, registrar


@dataclass
class StageResult:
    """What a stage produced: its folder (the saved model), its ``metrics.json`` content, and its trainer (None
    for a stage without one, or one skipped because it finished before)."""

    output_dir: Path
    metrics: dict[str, Any]
    trainer: Any = None


@dataclass
class StageContext:
    """What the runner gives a stage: how to claim its folder (just before it writes: bad input writes nothing),
    and where the previous stage's model is (None for the first stage)."""

    claim: Callable[[Any], Path]
    previous: Path | None = None
    resume: bool = (
        False  # the run resumes (--resume_from_checkpoint): a kind that resumes itself skips done work
    )


class StageKind:
    """One kind of stage. :meth:`run` trains (or otherwise transforms) a model from ``recipe`` into
    ``recipe.training.output_dir`` and writes its ``metrics.json``."""

    name: ClassVar[str] = ""
    options: ClassVar[type | None] = (
        None  # dataclass of the kind's own stage keys (validated in __post_init__)
    )
    resumes_itself: ClassVar[bool] = (
        False  # a stopped stage resumes from its own sub-folders (self_train rounds)
    )

    def __init__(self, options: Any = None):
        self.config = options

    def check(self, recipe, where: str) -> None:
        """Parse-time checks of this stage against its recipe (raise RecipeError); called before any stage runs."""

    def run(self, recipe, context: StageContext) -> StageResult:
        raise NotImplementedError


STAGE_KINDS: dict[str, type[StageKind]] = {}

register_stage_kind = registrar(STAGE_KINDS, "stage kind")
register_stage_kind.__doc__ = (
    "Class decorator registering a :class:`StageKind` under the ``kind`` name recipes use."
)


def stage_kind_class(name: str, where: str) -> type[StageKind]:
    return lookup(STAGE_KINDS, name, "stage kind", where)


def list_stage_kinds() -> dict[str, str]:
    """Registered stage kinds with the first line of their docstrings."""
    return first_lines(STAGE_KINDS)
