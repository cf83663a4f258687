"""``PooledClassifier``: any Auto backbone + a pooling + a linear head, as a ``PreTrainedModel`` — self-contained.

This file imports only torch and transformers, so it travels with every saved pooled model (``auto_map`` in its
``config.json``): ``AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)`` (or
``AutoModelForImageClassification``) loads the model where hf_transfer is not installed, as custom models on the
Hub load. Inside hf_transfer the same classes are registered with the Auto classes
(:mod:`hf_transfer.modeling.pooled`), so no remote code is needed there.

Poolings: ``cls`` (first token), ``pooler`` (the backbone's pooler output), ``mean`` / ``max`` (over non-padding
tokens, or over the spatial grid of a conv backbone). The forward also accepts precomputed ``features`` (pooled
backbone outputs) instead of inputs: the head alone then runs (feature caching).

A folder that holds an adapter on a pooled head (``adapter_config.json`` and this config, no model weights) loads
the same way: the backbone comes from ``backbone_name_or_path`` (its Hub id), then transformers' PEFT integration
loads the adapter and the trained head (``load_adapter``), so ``pipeline("text-classification", model=folder,
trust_remote_code=True)`` serves it too.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils import cached_file

POOLINGS = ("cls", "pooler", "mean", "max")
ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
DOWNLOAD_KWARGS = ("cache_dir", "token", "local_files_only", "force_download", "proxies")


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


def backbone_dict(config: PretrainedConfig) -> dict:
    """A backbone's config as a dict to nest, without ``_name_or_path`` (where it was loaded from on this
    machine, a cache or package folder)."""
    values = config.to_dict()
    values.pop("_name_or_path", None)
    return values


def holds_only_an_adapter(name_or_path, download_kwargs: dict) -> bool:
    """Whether a folder or Hub repo holds an adapter (``adapter_config.json``) and no model weights."""
    def has(filename: str) -> bool:
        kwargs = {k: v for k, v in download_kwargs.items() if k in DOWNLOAD_KWARGS}
        found = cached_file(
            str(name_or_path),
            filename,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **kwargs,
        )
        return found is not None

    return has(ADAPTER_CONFIG) and not any(has(name) for name in WEIGHT_FILES)


def load_on_backbone(cls, name_or_path, kwargs: dict) -> PreTrainedModel:
    """``cls`` built from the config in ``name_or_path`` on the backbone named by its ``backbone_name_or_path``,
    then the adapter of ``name_or_path`` loaded into it (transformers' PEFT integration), in eval mode."""
    download = {k: v for k, v in kwargs.items() if k in DOWNLOAD_KWARGS}
    config = kwargs.get("config")
    if not isinstance(config, cls.config_class):
        config = cls.config_class.from_pretrained(name_or_path, revision=kwargs.get("revision"), **download)
    if not config.backbone_name_or_path:
        raise OSError(
            f"{name_or_path} holds an adapter but its config.json names no backbone (`backbone_name_or_path`): "
            "load the base model yourself and apply the adapter with peft's PeftModel.from_pretrained(base, folder)."
        )
    backbone = AutoModel.from_pretrained(config.backbone_name_or_path, **download)
    model = cls(config)
    model.backbone = backbone
    model.main_input_name = backbone.main_input_name
    revision = {"revision": kwargs["revision"]} if kwargs.get("revision") else {}
    model.load_adapter(str(name_or_path), adapter_kwargs={**download, **revision})
    return model.eval()


def config_from_dict(values: dict) -> PretrainedConfig:
    """A nested model config stored as a dict (``config.to_dict()``) back as its config class."""
    values = dict(values)
    return AutoConfig.for_model(values.pop("model_type"), **values)


class PooledFeaturesMixin:
    """For a model with a ``backbone`` and a config holding ``pooling`` / ``backbone_frozen`` /
    ``backbone_name_or_path``: ``extract_features``, and ``from_pretrained`` that also loads a folder holding only
    an adapter on the model."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """``PreTrainedModel.from_pretrained``; a folder or repo holding only an adapter on this model loads its
        backbone by ``backbone_name_or_path``, then the adapter and the trained head(s) (:func:`load_on_backbone`)."""
        if pretrained_model_name_or_path is not None and holds_only_an_adapter(pretrained_model_name_or_path, kwargs):
            return load_on_backbone(cls, pretrained_model_name_or_path, kwargs)
        return super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)

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
        backbone_name_or_path: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.backbone_name_or_path = backbone_name_or_path  # the Hub id (or the name given), never a local path
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
        set_auto_map(self, config)
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
        backbone_name_or_path: str | None = None,
    ) -> PooledClassifier:
        """Wrap a pretrained backbone (its weights are kept) with a new pooled linear head; ``backbone_name_or_path``
        (the Hub id the backbone came from) lets an adapter saved on this model load without its base weights."""
        config = PooledClassifierConfig(
            backbone=backbone_dict(backbone.config),
            backbone_name_or_path=backbone_name_or_path,
            pooling=pooling,
            classifier_dropout=classifier_dropout,
            id2label=dict(id2label),
            label2id={label: i for i, label in id2label.items()},
        )
        model = cls(config)
        model.backbone = backbone
        model.main_input_name = backbone.main_input_name
        set_auto_map(model, config)
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


def set_auto_map(model: PreTrainedModel, config: PretrainedConfig, auto_class: str | None = None) -> None:
    """Make ``save_pretrained`` copy the model's file beside the weights and point the Auto classes at it: the
    config, and ``auto_class`` (by default the text or image classification class, from the backbone's input)."""
    if auto_class is None:
        image = getattr(getattr(model, "backbone", None), "main_input_name", "input_ids") == "pixel_values"
        auto_class = "AutoModelForImageClassification" if image else "AutoModelForSequenceClassification"
    module = type(model).__module__.rsplit(".", 1)[-1]  # the file's name, here and in a saved folder
    model._auto_class = auto_class  # this model's entry in auto_map (the class-level one makes the file copied)
    config.auto_map = {
        **(getattr(config, "auto_map", None) or {}),
        "AutoConfig": f"{module}.{type(config).__name__}",
        auto_class: f"{module}.{type(model).__name__}",
    }


# save_pretrained copies this file into every saved folder (``is_remote_code``); the image class is set per model
PooledClassifierConfig.register_for_auto_class()
PooledClassifier.register_for_auto_class("AutoModelForSequenceClassification")
