"""Domain-alignment losses on pooled features: adversarial (DANN), Deep CORAL and multi-kernel MMD.

Each is an ``nn.Module`` taking source features ``(n_s, d)`` and target features ``(n_t, d)``.

Example::

    >>> loss = CoralLoss()(torch.randn(16, 8), torch.randn(16, 8) * 3)
    >>> float(loss) > 0
    True
"""

from __future__ import annotations

import torch
from torch import nn


class DomainAdversarialLoss(nn.Module):
    """Binary cross-entropy of a domain discriminator behind a gradient-reversal layer (Ganin et al., 2016).

    ``L_d = −1/(n_s+n_t) · [Σ_source log(1 − σ(D(R(f)))) + Σ_target log σ(D(R(f)))]`` where ``R`` is the reversal
    layer and ``D`` the discriminator: minimising it trains ``D`` to tell the domains apart, while the reversed
    gradient trains the feature extractor to make them indistinguishable.

    Shapes: ``source`` (n_s, d), ``target`` (n_t, d) → a scalar loss; :attr:`last_accuracy` holds the
    discriminator's accuracy on the batch.
    """

    def __init__(self, discriminator: nn.Module, reversal: nn.Module):
        super().__init__()
        self.discriminator = discriminator
        self.reversal = reversal  # parameter-free: sharing it with the wrapper duplicates no weights
        self.last_accuracy: float | None = None

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        features = torch.cat([source, target])
        domains = torch.cat([source.new_zeros(len(source)), target.new_ones(len(target))])
        logits = self.discriminator(self.reversal(features)).squeeze(-1)
        self.last_accuracy = float(((logits > 0).float() == domains).float().mean())
        return nn.functional.binary_cross_entropy_with_logits(logits, domains)


class CoralLoss(nn.Module):
    """Deep CORAL (Sun & Saenko, 2016): the distance between the domains' feature covariances.

    ``L = ‖C_s − C_t‖²_F / (4 d²)`` with ``C`` the (d, d) covariance of each domain's features.
    Shapes: ``source`` (n_s, d), ``target`` (n_t, d) with n_s, n_t ≥ 2 → a scalar.
    """

    @staticmethod
    def covariance(features: torch.Tensor) -> torch.Tensor:
        centered = features - features.mean(dim=0, keepdim=True)
        return centered.T @ centered / (len(features) - 1)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = source.shape[1]
        return (self.covariance(source) - self.covariance(target)).pow(2).sum() / (4 * d * d)


class MultiKernelMMDLoss(nn.Module):
    """Multi-kernel maximum mean discrepancy (Long et al., 2015): MMD² under a mixture of Gaussian kernels.

    ``MMD² = E[k(s, s')] + E[k(t, t')] − 2 E[k(s, t)]`` (unbiased: the ``s = s'`` and ``t = t'`` terms are left
    out), ``k = mean_i exp(−‖x − y‖² / (σ² · m_i))`` with ``σ²`` the batch's mean squared distance and
    bandwidth multipliers ``m_i``. Shapes: ``source`` (n_s, d), ``target`` (n_t, d), both ≥ 2 rows → a scalar
    near 0 when the domains match.
    """

    def __init__(self, multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)):
        super().__init__()
        self.multipliers = multipliers

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        features = torch.cat([source, target])
        distances = torch.cdist(features, features).pow(2)
        bandwidth = distances.detach().sum() / (len(features) ** 2 - len(features))
        kernels = sum(torch.exp(-distances / (bandwidth * m + 1e-12)) for m in self.multipliers) / len(
            self.multipliers
        )
        n, m = len(source), len(target)
        within_source = (kernels[:n, :n].sum() - kernels[:n, :n].diagonal().sum()) / (n * (n - 1))
        within_target = (kernels[n:, n:].sum() - kernels[n:, n:].diagonal().sum()) / (m * (m - 1))
        return within_source + within_target - 2 * kernels[:n, n:].mean()
