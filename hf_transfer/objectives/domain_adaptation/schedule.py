"""The gradient-reversal λ schedule, driven by the Trainer's step (evaluation never moves it)."""

from __future__ import annotations

import math

from transformers import TrainerCallback

from .config import AdaptationConfig


def lambda_at(progress: float, config: AdaptationConfig) -> float:
    """λ at training progress ``p`` ∈ [0, 1]: ganin ``λ_max·(2/(1+exp(−γp)) − 1)``, constant, or linear."""
    progress = min(max(progress, 0.0), 1.0)
    if config.lambda_schedule == "constant":
        return config.lambda_max
    if config.lambda_schedule == "linear":
        return config.lambda_max * progress
    return config.lambda_max * (2.0 / (1.0 + math.exp(-config.lambda_gamma * progress)) - 1.0)


def find_wrapper(model):
    """The DomainAdversarialModel inside a (possibly DDP- / accelerate-wrapped) model."""
    while hasattr(model, "module"):
        model = model.module
    return model


class LambdaScheduleCallback(TrainerCallback):
    """Sets the reversal layer's λ from ``global_step / max_steps`` before every optimizer step.

    λ depends on nothing else, and a resumed run restores ``global_step`` from its checkpoint (``max_steps`` is
    the run's), so the schedule continues where the interrupted run stopped; with gradient accumulation it moves
    once per optimizer step, not per micro-batch.
    """

    def __init__(self, config: AdaptationConfig):
        self.config = config

    def _update(self, state, model) -> None:
        if model is None:
            return
        progress = state.global_step / state.max_steps if state.max_steps else 0.0
        find_wrapper(model).reversal.coeff = lambda_at(progress, self.config)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._update(state, model)

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self._update(state, model)
