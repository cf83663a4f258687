"""Losses on the unlabelled target's outputs: minimum class confusion (MCC) and masked-LM on target text (UDALM).

Example::

    >>> MinimumClassConfusionLoss(temperature=2.5)(torch.randn(16, 3))        # ≥ 0, 0 for one-hot predictions
    >>> head = MaskedLanguageModelHead(hidden_size=32, vocab_size=100)
    >>> head(hidden_states, mlm_targets, embeddings.weight)                     # cross-entropy on masked tokens
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import get_activation

IGNORED = -100  # a token that is not masked (not predicted)


class MinimumClassConfusionLoss(nn.Module):
    """Minimum class confusion (Jin et al., 2020) on a batch of target logits.

    With ``Ŷ = softmax(logits / T)`` (n, C) and entropy weights ``W_ii = n · (1 + e^{−H(Ŷ_i)}) / Σ_j (1 + e^{−H(Ŷ_j)})``
    (confident rows count more; weights carry no gradient), the class correlation ``C = Ŷᵀ W Ŷ`` (C, C) is
    row-normalised, ``C̃_jk = C_jk / Σ_k' C_jk'``, and the loss is the confusion between classes,
    ``L = (Σ_jk C̃_jk − Σ_j C̃_jj) / C``: 0 when every row is predicted one-hot, larger the more probability mass
    two classes share over the batch.

    Shapes: ``logits`` (n, C) with n ≥ 1 → a scalar in ``[0, (C − 1) / C]``.
    """

    def __init__(self, temperature: float = 2.5):
        super().__init__()
        self.temperature = temperature

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        n, classes = logits.shape
        predictions = torch.softmax(logits.float() / self.temperature, dim=1)
        entropy = -(predictions * torch.log(predictions + 1e-5)).sum(dim=1).detach()
        weights = 1 + torch.exp(-entropy)
        weights = (n * weights / weights.sum()).unsqueeze(1)
        confusion = (predictions * weights).T @ predictions
        confusion = confusion / confusion.sum(dim=1, keepdim=True)
        return (confusion.sum() - confusion.trace()) / classes


class MaskedLanguageModelHead(nn.Module):
    """A BERT-style masked-LM head whose decoder is the encoder's own input embeddings (tied, as in pretraining):
    ``logits = LayerNorm(act(h W + b)) Eᵀ + bias``, and the loss is the cross-entropy on the masked tokens.

    ``forward(hidden_states (b, t, d), labels (b, t), embeddings (V, d))`` → a scalar: the mean cross-entropy
    over the positions whose label is not −100 (0 when none is masked). Only masked positions reach the
    vocabulary projection, so the cost is that of ~15 % of the tokens.
    """

    def __init__(
        self, hidden_size: int, vocab_size: int, hidden_act: str = "gelu", layer_norm_eps: float = 1e-12
    ):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = get_activation(hidden_act) if isinstance(hidden_act, str) else hidden_act
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(
        self, hidden_states: torch.Tensor, labels: torch.Tensor, embeddings: torch.Tensor
    ) -> torch.Tensor:
        masked = labels != IGNORED
        if not masked.any():
            return hidden_states.sum() * 0.0
        hidden = self.layer_norm(self.activation(self.dense(hidden_states[masked])))
        logits = hidden @ embeddings.T + self.bias
        return nn.functional.cross_entropy(logits.float(), labels[masked])

    def load_pretrained(self, head_state: dict[str, torch.Tensor]) -> bool:
        """Copy a checkpoint's masked-LM head (BERT ``cls.predictions.*``, RoBERTa / MPNet ``lm_head.*``, keys
        relative to the head) where the shapes match; returns whether the transform and bias were all found."""
        found = {}
        for name, tensor in head_state.items():
            leaf = name.split(".")
            if "decoder" in leaf:
                continue
            if leaf[-2:-1] == ["dense"]:
                found[f"dense.{leaf[-1]}"] = tensor
            elif len(leaf) > 1 and leaf[-2].lower() in ("layernorm", "layer_norm"):
                found[f"layer_norm.{leaf[-1]}"] = tensor
            elif leaf[-1] == "bias" and tensor.shape == self.bias.shape:
                found["bias"] = tensor
        own = self.state_dict()
        complete = set(found) == set(own) and all(found[k].shape == own[k].shape for k in own)
        if complete:
            self.load_state_dict(found)
        return complete


class ConsistencyLoss(nn.Module):
    """FixMatch's unlabelled loss (Sohn et al. 2020) on target rows seen twice, weakly and strongly augmented.

    The weak view's prediction ``q = softmax(z_weak)`` (no gradient) gives a pseudo-label ``ŷ = argmax q`` where
    ``max q ≥ τ``; the loss is the cross-entropy of the strong view's logits to it, averaged over all rows (rows
    below the threshold count as 0): ``L = 1/n Σ_i 1[max q_i ≥ τ] · CE(z_strong_i, ŷ_i)``.

    Shapes: ``weak_logits``, ``strong_logits`` (n, C) → a scalar; :attr:`last_mask_rate` holds the share of rows
    above the threshold.
    """

    def __init__(self, threshold: float = 0.95):
        super().__init__()
        self.threshold = threshold
        self.last_mask_rate: float | None = None

    def forward(self, weak_logits: torch.Tensor, strong_logits: torch.Tensor) -> torch.Tensor:
        probabilities = torch.softmax(weak_logits.detach().float(), dim=-1)
        confidence, pseudo = probabilities.max(dim=-1)
        mask = (confidence >= self.threshold).float()
        self.last_mask_rate = float(mask.mean())
        losses = nn.functional.cross_entropy(strong_logits.float(), pseudo, reduction="none")
        return (losses * mask).mean()
