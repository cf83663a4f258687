"""Objectives: what a run optimises and reports — ``single_task``, ``multitask`` (task objectives) and
``domain_adaptation`` (a wrapper around either). See :mod:`hf_transfer.objectives.base` for the interface."""

from .base import (
    OBJECTIVES,
    Objective,
    ObjectiveData,
    TrainerInputs,
    build_objective,
    list_objectives,
    objective_class,
    register_objective,
    task_objective_name,
    wrapper_names,
)
from .domain_adaptation import DomainAdaptation
from .multitask import MultiTask  # noqa: I001  (registration order: task objectives, then wrappers)
from .records import EvaluationInputs, SavedRun, recorded_objectives
from .single_task import SingleTask

__all__ = [
    "OBJECTIVES",
    "DomainAdaptation",
    "EvaluationInputs",
    "MultiTask",
    "Objective",
    "ObjectiveData",
    "SavedRun",
    "SingleTask",
    "TrainerInputs",
    "build_objective",
    "list_objectives",
    "objective_class",
    "recorded_objectives",
    "register_objective",
    "task_objective_name",
    "wrapper_names",
]
