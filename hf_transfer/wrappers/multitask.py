"""The multi-task model (:mod:`hf_transfer.modeling.multitask_model`, self-contained so that saved models carry it),
registered with ``AutoConfig`` / ``AutoModel`` so that after ``import hf_transfer`` a saved model reloads without
remote code, and :func:`check_task_table`, the recipe-side check that names the problem as a ``RecipeError``."""

from __future__ import annotations

from transformers import AutoConfig, AutoModel

from ..errors import RecipeError
from ..modeling.multitask_model import (
    LOSS_WEIGHTINGS,
    TASK_KINDS,
    MultiTaskConfig,
    MultiTaskModel,
    MultiTaskOutput,
    UncertaintyWeighting,
    check_task,
    task_loss,
)

__all__ = [
    "LOSS_WEIGHTINGS",
    "TASK_KINDS",
    "MultiTaskConfig",
    "MultiTaskModel",
    "MultiTaskOutput",
    "UncertaintyWeighting",
    "check_task",
    "check_task_table",
    "task_loss",
]


def check_task_table(tasks: list[dict]) -> MultiTaskConfig:
    """The model config of a task table (its label and logit layout); raises :class:`RecipeError` when the table is
    invalid (a kind, too few labels, a repeated name)."""
    try:
        return MultiTaskConfig(tasks=tasks)
    except ValueError as err:
        raise RecipeError(str(err)) from None


AutoConfig.register(MultiTaskConfig.model_type, MultiTaskConfig)
AutoModel.register(MultiTaskConfig, MultiTaskModel)
