"""Batch normalisation in transfer learning: frozen layers keep their statistics, and running averages move at
PyTorch's usual pace.

- A ``BatchNorm`` whose parameters are all frozen (feature extraction, the bottom of a top-N run, a PEFT base
  model) runs in eval mode, also while the model trains: its pretrained running mean / variance are part of the
  frozen feature extractor and must not drift towards the new data (checked at every call, so gradual unfreezing
  switches a layer back to batch statistics once it trains).
- ``transformers``' MobileNet ports create ``BatchNorm2d(momentum=0.997)``, TensorFlow's *decay*: in PyTorch this
  replaces almost all of the running statistics with each batch's. Momenta above 0.5 are reset to 0.1.

Example::

    >>> reset_batchnorm_momentum(model); keep_frozen_batchnorm_in_eval(model)
    >>> reestimate_batchnorm(model, target_batches)                     # AdaBN: the target's statistics
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch
from torch import nn

from .structure import is_trainable

logger = logging.getLogger(__name__)
_HOOKED = "_hf_transfer_frozen_statistics"


_REESTIMATING = "_hf_transfer_reestimating"


def _frozen_statistics(module: nn.Module, args) -> None:
    if getattr(module, _REESTIMATING, False):
        return
    if module.training and not any(is_trainable(p) for p in module.parameters()):
        module.train(False)


def batchnorm_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, batches: Iterable[dict]) -> int:
    """AdaBN (Li et al., 2016): replace every batch-norm layer's running mean / variance by their plain average
    over ``batches`` (momentum ``None``), frozen layers included; the rest of the model runs in eval mode (no
    dropout) and no weight changes. Returns how many layers were re-estimated."""
    layers = batchnorm_layers(model)
    if not layers:
        return 0
    was_training, momenta = model.training, [m.momentum for m in layers]
    model.eval()
    for module in layers:
        module.reset_running_stats()
        module.momentum = None
        module.train()
        setattr(module, _REESTIMATING, True)
    try:
        for batch in batches:
            model(**batch)
    finally:
        for module, momentum in zip(layers, momenta, strict=True):
            module.momentum = momentum
            setattr(module, _REESTIMATING, False)
            module.train(False)
        model.train(was_training)
    return len(layers)


def keep_frozen_batchnorm_in_eval(model: nn.Module) -> int:
    """Make every batch-norm layer with frozen parameters use (and keep) its running statistics. Returns how
    many layers are watched."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            if not getattr(module, _HOOKED, False):
                module.register_forward_pre_hook(_frozen_statistics)
                setattr(module, _HOOKED, True)
            count += 1
    return count


def reset_batchnorm_momentum(model: nn.Module, momentum: float = 0.1) -> int:
    """Set ``momentum`` on batch-norm layers whose momentum is a TensorFlow-style decay (> 0.5). Returns how many
    were reset."""
    reset = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and (module.momentum or 0) > 0.5:
            module.momentum = momentum
            reset += 1
    if reset:
        logger.info("Reset the running-average momentum of %d batch-norm layers to %s.", reset, momentum)
    return reset
