"""Stages: a recipe's ``stages:`` run in order in one output folder; ``train`` is the built-in stage kind."""

from .base import STAGE_KINDS, StageContext, StageKind, StageResult, list_stage_kinds, register_stage_kind
from .runner import StagePlan, plan_stages, run_stages
from .train import TrainStage

__all__ = [
    "STAGE_KINDS",
    "StageContext",
    "StageKind",
    "StagePlan",
    "StageResult",
    "TrainStage",
    "list_stage_kinds",
    "plan_stages",
    "register_stage_kind",
    "run_stages",
]
