"""Stages: a recipe's ``stages:`` run in order in one output folder. Kinds: ``train`` (the recipe's objective),
``mlm`` (continued masked-LM pretraining on target text), ``self_train`` (pseudo-labelling rounds)."""

from .base import STAGE_KINDS, StageContext, StageKind, StageResult, list_stage_kinds, register_stage_kind
from .mlm import MaskedLMStage, MaskedLMStageArguments
from .runner import StagePlan, plan_stages, run_stages
from .self_train import SelfTrainingArguments, SelfTrainStage, select_confident
from .train import TrainStage

__all__ = [
    "STAGE_KINDS",
    "MaskedLMStage",
    "MaskedLMStageArguments",
    "SelfTrainStage",
    "SelfTrainingArguments",
    "select_confident",
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
