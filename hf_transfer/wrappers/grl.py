"""Gradient reversal (Ganin & Lempitsky, 2015): identity on the way forward, −λ · gradient on the way back.

Example::

    >>> x = torch.randn(4, 8, requires_grad=True)
    >>> GradientReversal(coeff=0.5)(x).sum().backward()
    >>> bool((x.grad == -0.5).all())
    True
"""

from __future__ import annotations

import torch
from torch import nn


class GradientReversalFunction(torch.autograd.Function):
    """``forward(x, λ) = x``; ``backward(g) = −λ · g`` (no gradient for λ)."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = float(coeff)
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coeff * grad_output, None


class GradientReversal(nn.Module):
    """A gradient-reversal layer whose λ (``coeff``) is set from outside, e.g. by a Trainer callback."""

    def __init__(self, coeff: float = 1.0):
        super().__init__()
        self.coeff = coeff

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return GradientReversalFunction.apply(inputs, self.coeff)

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}"
