"""``PooledClassifier``: any Auto backbone + a pooling choice + a linear head, as a ``PreTrainedModel``.

Used when the head is not the checkpoint's own: ``cls`` (first token), ``pooler`` (the backbone's pooler
output), ``mean`` / ``max`` (over non-padding tokens, or over the spatial grid of a conv backbone). With
``pooling: auto`` the choice is read from a sentence-transformers checkpoint's ``1_Pooling/config.json``.
The class is registered with ``AutoConfig`` and ``AutoModelForSequenceClassification`` /
``AutoModelForImageClassification``, so a saved model reloads with the Auto classes after ``import hf_transfer``.

The forward also accepts precomputed ``features`` (pooled backbone outputs) instead of inputs: the head alone
then runs, which is how feature caching trains a head without touching the backbone.

Example::

    >>> from transformers import AutoModel, AutoModelForSequenceClassification
    >>> model = PooledClassifier.from_backbone(AutoModel.from_pretrained(path), "mean", {0: "neg", 1: "pos"})
    >>> model.save_pretrained("out"); AutoModelForSequenceClassification.from_pretrained("out")  # same class back
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForImageClassification,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from ..errors import RecipeError

POOLINGS = ("cls", "pooler", "mean", "max")
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


def feature_size(config: PretrainedConfig, backbone: nn.Module | None = None) -> int:
    """Width of the pooled features: from the config (``hidden_size``, ``dim``, ``hidden_sizes[-1]``), else the
    last convolution's or norm's width in the built ``backbone`` (MobileNet-style configs)."""
    for name in ("hidden_size", "dim"):
        if isinstance(getattr(config, name, None), int):
            return getattr(config, name)
    if getattr(config, "hidden_sizes", None):
        return config.hidden_sizes[-1]
    widths = [
        getattr(m, "out_channels", None) or getattr(m, "num_features", None)
        for m in (backbone.modules() if backbone is not None else ())
    ]
    widths = [w for w in widths if isinstance(w, int)]
    if widths:
        return widths[-1]
    raise ValueError(f"Cannot tell the feature size of a {config.model_type} backbone.")


def pool_features(outputs, pooling: str, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Backbone outputs → ``(batch, hidden)``: ``pooler`` output, ``cls`` token, or ``mean`` / ``max`` over the
    non-padding tokens (or over the spatial grid of a conv backbone's ``(batch, channels, h, w)`` map)."""
    if pooling == "pooler":
        pooled = getattr(outputs, "pooler_output", None)
        if pooled is None:
            raise ValueError("pooling 'pooler': the backbone has no pooler output; use cls or mean.")
        return pooled.flatten(1)
    hidden = outputs.last_hidden_state
    if hidden.dim() == 4:  # conv feature map (batch, channels, height, width)
        return hidden.amax(dim=(2, 3)) if pooling == "max" else hidden.mean(dim=(2, 3))
    if pooling == "cls":
        return hidden[:, 0]
    mask = torch.ones(hidden.shape[:2], device=hidden.device) if attention_mask is None else attention_mask
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "max":
        return hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).amax(dim=1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def config_from_dict(values: dict) -> PretrainedConfig:
    """A nested model config stored as a dict (``config.to_dict()``) back as its config class."""
    values = dict(values)
    return AutoConfig.for_model(values.pop("model_type"), **values)


class PooledFeaturesMixin:
    """``extract_features`` for a model with a ``backbone`` and a config holding ``pooling`` / ``backbone_frozen``."""

    def extract_features(self, attention_mask: torch.Tensor | None = None, **inputs) -> torch.Tensor:
        """Pooled backbone features ``(batch, hidden)``; inputs the backbone does not take (or None) are dropped."""
        if self.config.backbone_frozen and self.training:
            self.backbone.eval()  # a frozen backbone is a fixed feature extractor: no dropout noise
        if attention_mask is not None:
            inputs["attention_mask"] = attention_mask
        accepted = inspect.signature(self.backbone.forward).parameters
        inputs = {k: v for k, v in inputs.items() if k in accepted and v is not None}
        return pool_features(self.backbone(**inputs), self.config.pooling, attention_mask)


class PooledClassifierConfig(PretrainedConfig):
    """Config of :class:`PooledClassifier`: the backbone's config (as a dict), the pooling and the head."""

    model_type = "hf_transfer_pooled_classifier"

    def __init__(
        self,
        backbone: dict | None = None,
        pooling: str = "mean",
        classifier_dropout: float = 0.1,
        backbone_frozen: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.pooling = pooling
        self.classifier_dropout = classifier_dropout
        self.backbone_frozen = backbone_frozen

    @property
    def backbone_config(self) -> PretrainedConfig:
        return config_from_dict(self.backbone)


class PooledClassifier(PooledFeaturesMixin, PreTrainedModel):
    """A backbone, a pooling and ``dropout → linear``; returns a ``SequenceClassifierOutput`` (loss first)."""

    config_class = PooledClassifierConfig
    base_model_prefix = "backbone"
    main_input_name = "input_ids"

    def __init__(self, config: PooledClassifierConfig):
        super().__init__(config)
        self.backbone = AutoModel.from_config(config.backbone_config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(feature_size(config.backbone_config, self.backbone), config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if module is getattr(self, "classifier", None):
            std = getattr(self.config.backbone_config, "initializer_range", 0.02)
            nn.init.normal_(module.weight, std=std)
            nn.init.zeros_(module.bias)

    @classmethod
    def from_backbone(
        cls,
        backbone: PreTrainedModel,
        pooling: str,
        id2label: dict[int, str],
        classifier_dropout: float = 0.1,
    ) -> PooledClassifier:
        """Wrap a pretrained backbone (its weights are kept) with a new pooled linear head."""
        config = PooledClassifierConfig(
            backbone=backbone.config.to_dict(),
            pooling=pooling,
            classifier_dropout=classifier_dropout,
            id2label=dict(id2label),
            label2id={label: i for i, label in id2label.items()},
        )
        model = cls(config)
        model.backbone = backbone
        model.main_input_name = backbone.main_input_name
        return model

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        if features is None:
            inputs = {"input_ids": input_ids, "token_type_ids": token_type_ids, "pixel_values": pixel_values}
            inputs = {k: v for k, v in inputs.items() if v is not None}
            features = self.extract_features(attention_mask=attention_mask, **inputs)
        logits = self.classifier(self.dropout(features.to(self.classifier.weight.dtype)))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(PooledClassifierConfig.model_type, PooledClassifierConfig)
AutoModelForSequenceClassification.register(PooledClassifierConfig, PooledClassifier)
AutoModelForImageClassification.register(PooledClassifierConfig, PooledClassifier)
