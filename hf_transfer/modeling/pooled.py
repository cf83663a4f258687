"""``PooledClassifier``: any Auto backbone + a pooling choice + a linear head, as a ``PreTrainedModel``.

Used when the head is not the checkpoint's own: ``cls`` (first token), ``pooler`` (the backbone's pooler
output), ``mean`` / ``max`` (over non-padding tokens, or over the spatial grid of a conv backbone). With
``pooling: auto`` the choice is read from a sentence-transformers checkpoint's ``1_Pooling/config.json``.
The classes live in the self-contained :mod:`hf_transfer.modeling.pooled_model`, which a saved model carries in its
folder (``auto_map``: stock transformers loads it with ``trust_remote_code=True``); here they are registered with
``AutoConfig`` and ``AutoModelForSequenceClassification`` / ``AutoModelForImageClassification``, so after
``import hf_transfer`` a saved model reloads with the Auto classes without remote code.

The forward also accepts precomputed ``features`` (pooled backbone outputs) instead of inputs: the head alone
then runs, which is how feature caching trains a head without touching the backbone.

Example::

    >>> from transformers import AutoModel, AutoModelForSequenceClassification
    >>> model = PooledClassifier.from_backbone(AutoModel.from_pretrained(path), "mean", {0: "neg", 1: "pos"})
    >>> model.save_pretrained("out"); AutoModelForSequenceClassification.from_pretrained("out")  # same class back
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoConfig, AutoModelForImageClassification, AutoModelForSequenceClassification

from ..errors import RecipeError
from .pooled_model import (
    POOLINGS,
    PooledClassifier,
    PooledClassifierConfig,
    PooledFeaturesMixin,
    config_from_dict,
    feature_size,
    pool_features,
)

__all__ = [
    "POOLINGS",
    "PooledClassifier",
    "PooledClassifierConfig",
    "PooledFeaturesMixin",
    "config_from_dict",
    "feature_size",
    "pool_features",
    "resolve_pooling",
    "sentence_transformers_pooling",
]

SENTENCE_TRANSFORMERS_MODES = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
}


def sentence_transformers_pooling(checkpoint_dir: str | Path) -> str | None:
    """The pooling a sentence-transformers checkpoint declares in ``1_Pooling/config.json``, if any."""
    path = Path(checkpoint_dir) / "1_Pooling" / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    for key, pooling in SENTENCE_TRANSFORMERS_MODES.items():
        if config.get(key):
            return pooling
    return None


def resolve_pooling(pooling: str, checkpoint_dir: str | Path | None) -> str:
    """``auto`` → the sentence-transformers pooling when declared, else ``mean``; other values checked."""
    if pooling == "auto":
        return (sentence_transformers_pooling(checkpoint_dir) if checkpoint_dir else None) or "mean"
    if pooling not in POOLINGS:
        raise RecipeError(
            f"Unknown pooling {pooling!r}: use auto, model (the checkpoint's own head) or {', '.join(POOLINGS)}."
        )
    return pooling


AutoConfig.register(PooledClassifierConfig.model_type, PooledClassifierConfig)
AutoModelForSequenceClassification.register(PooledClassifierConfig, PooledClassifier)
AutoModelForImageClassification.register(PooledClassifierConfig, PooledClassifier)
