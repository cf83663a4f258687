"""Label-shift correction: estimate the target's class priors without its labels and bake them into the head.

1. **Calibration** on labelled source validation rows: bias-corrected temperature scaling (BCTS, Alexandari et
   al. 2020), ``q(y|x) = softmax(z / T + b)`` with ``T > 0`` and a per-class ``b`` minimising the NLL.
2. **EM** (Saerens et al. 2002) on the calibrated target predictions: ``π ← mean_x[q(y|x) · w / Σ_y q(y|x) · w]``
   with ``w = π / π_s`` until the priors stop moving; ``π_s`` are the source training priors.
3. **Guard**: black-box shift estimation (BBSE, Lipton et al. 2018) from the source-validation confusion matrix,
   ``π = C⁻¹ μ̂ ⊙ π_val`` with ``μ̂`` the target's predicted-class shares. The correction is applied only where
   the two estimators agree within a tolerance for every class; otherwise the model is left as it is.
4. **Baking**: the head's last linear layer becomes ``W / T`` and ``b_head / T + b + log(π / π_s)``, so the
   exported (stock) model's logits are the calibrated ones plus the prior shift.

Example::

    >>> temperature, bias = fit_calibration(val_logits, val_labels)
    >>> priors, steps = em_priors(calibrated_probabilities(target_logits, temperature, bias), source_priors)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)


def calibrated_probabilities(logits: np.ndarray, temperature: float, bias: np.ndarray) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64) / temperature + bias
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_calibration(logits: np.ndarray, labels: np.ndarray, steps: int = 100) -> tuple[float, np.ndarray]:
    """BCTS: the temperature ``T`` and class biases ``b`` minimising ``NLL(softmax(z / T + b), y)``."""
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t, bias], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(z / log_t.exp() + bias, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp()), (bias - bias.mean()).detach().numpy()


def em_priors(
    probabilities: np.ndarray, source_priors: np.ndarray, max_steps: int = 200, tolerance: float = 1e-6
) -> tuple[np.ndarray, int]:
    """Saerens et al.'s EM: the target priors that best explain ``probabilities`` (n, C) given the model's
    training priors; returns the priors and the steps taken."""
    source = np.asarray(source_priors, dtype=np.float64)
    priors = source.copy()
    for step in range(1, max_steps + 1):
        adjusted = probabilities * (priors / source)
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        updated = adjusted.mean(axis=0)
        if np.abs(updated - priors).max() < tolerance:
            return updated, step
        priors = updated
    return priors, max_steps


def bbse_priors(
    validation_predictions: np.ndarray,
    validation_labels: np.ndarray,
    target_predictions: np.ndarray,
    classes: int,
) -> np.ndarray:
    """BBSE: solve ``C w = μ̂`` (``C[i, j] = P(ŷ = i, y = j)`` on validation, ``μ̂`` the target's shares of ŷ);
    the priors are ``w ⊙ π_val``, clipped at 0 and renormalised."""
    joint = np.zeros((classes, classes))
    np.add.at(joint, (validation_predictions, validation_labels), 1.0)
    joint /= len(validation_labels)
    shares = np.bincount(target_predictions, minlength=classes) / len(target_predictions)
    weights = np.linalg.lstsq(joint, shares, rcond=None)[0]
    priors = np.clip(weights * joint.sum(axis=0), 0, None)
    return priors / priors.sum() if priors.sum() > 0 else joint.sum(axis=0)


def output_layer(model: nn.Module, num_labels: int) -> nn.Linear:
    """The classifier's last linear layer (``num_labels`` outputs); under PEFT, the trained copy."""
    layers = [
        module
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and module.out_features == num_labels
        and "original_module" not in name
    ]
    if not layers or layers[-1].bias is None:
        raise ValueError(
            f"{type(model).__name__} has no biased linear layer with {num_labels} outputs to shift."
        )
    return layers[-1]


@torch.no_grad()
def bake_correction(layer: nn.Linear, temperature: float, bias: np.ndarray, log_ratio: np.ndarray) -> None:
    """``logits' = logits / T + b + log(π / π_s)``, written into ``layer``."""
    shift = torch.as_tensor(bias + log_ratio, dtype=layer.bias.dtype, device=layer.bias.device)
    layer.weight.div_(temperature)
    layer.bias.div_(temperature).add_(shift)


@dataclass
class PriorCorrection:
    """The estimate: calibration, EM and BBSE priors, and whether the guard lets the shift be applied."""

    temperature: float
    bias: np.ndarray
    source_priors: np.ndarray
    target_priors: np.ndarray
    bbse_priors: np.ndarray
    em_steps: int
    predicted_shares: np.ndarray
    tolerance: float

    @property
    def log_ratio(self) -> np.ndarray:
        return np.log(np.clip(self.target_priors, 1e-6, None) / self.source_priors)

    @property
    def disagreement(self) -> float:
        return float(np.abs(self.target_priors - self.bbse_priors).max())

    @property
    def applied(self) -> bool:
        return self.disagreement <= self.tolerance

    def report(self) -> dict[str, Any]:
        """What ``metrics.json`` records under ``domain_adaptation.prior_correction``."""

        def rounded(values):
            return np.round(values, 4).tolist()

        return {
            "method": "em",
            "applied": self.applied,
            "reason": "EM and BBSE agree"
            if self.applied
            else f"EM and BBSE disagree by {self.disagreement:.3f} > prior_tolerance {self.tolerance}: "
            "left uncorrected",
            "source_priors": rounded(self.source_priors),
            "target_priors": rounded(self.target_priors),
            "bbse_priors": rounded(self.bbse_priors),
            "disagreement": round(self.disagreement, 4),
            "em_steps": self.em_steps,
            "temperature": round(self.temperature, 4),
            "calibration_bias": rounded(self.bias),
            "log_ratio": rounded(self.log_ratio),
            "predicted_target_shares": rounded(self.predicted_shares),
        }


def estimate_correction(
    validation_logits: np.ndarray,
    validation_labels: np.ndarray,
    target_logits: np.ndarray,
    source_priors: np.ndarray,
    tolerance: float,
) -> PriorCorrection:
    """Calibrate on source validation, estimate the target priors by EM and by BBSE."""
    classes = validation_logits.shape[1]
    temperature, bias = fit_calibration(validation_logits, validation_labels)
    priors, steps = em_priors(calibrated_probabilities(target_logits, temperature, bias), source_priors)
    predicted = target_logits.argmax(1)
    return PriorCorrection(
        temperature=temperature,
        bias=bias,
        source_priors=np.asarray(source_priors, dtype=np.float64),
        target_priors=priors,
        bbse_priors=bbse_priors(validation_logits.argmax(1), validation_labels, predicted, classes),
        em_steps=steps,
        predicted_shares=np.bincount(predicted, minlength=classes) / len(predicted),
        tolerance=tolerance,
    )
