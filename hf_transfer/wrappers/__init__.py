"""Model wrappers: ``PreTrainedModel`` subclasses that add training objectives around a task model."""

from .alignment import CoralLoss, DomainAdversarialLoss, MultiKernelMMDLoss
from .domain_adversarial import (
    ALIGNMENTS,
    DomainAdaptationOutput,
    DomainAdversarialConfig,
    DomainAdversarialModel,
)
from .grl import GradientReversal, GradientReversalFunction
from .loading import load_multitask_model, load_trained_classifier
from .multitask import (
    TASK_KINDS,
    MultiTaskConfig,
    MultiTaskModel,
    MultiTaskOutput,
    UncertaintyWeighting,
)

__all__ = [
    "ALIGNMENTS",
    "CoralLoss",
    "DomainAdaptationOutput",
    "DomainAdversarialConfig",
    "DomainAdversarialLoss",
    "DomainAdversarialModel",
    "GradientReversal",
    "GradientReversalFunction",
    "MultiKernelMMDLoss",
    "MultiTaskConfig",
    "MultiTaskModel",
    "MultiTaskOutput",
    "TASK_KINDS",
    "UncertaintyWeighting",
    "load_multitask_model",
    "load_trained_classifier",
]
