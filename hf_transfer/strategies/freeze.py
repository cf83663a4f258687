"""Strategies that choose what trains by freezing parameters.

- ``full``: everything trains.
- ``feature_extraction``: the backbone is frozen, the task head trains.
- ``top_layers``: the top N blocks (plus what sits above them, and the head) train.
- ``patterns``: parameters chosen by ``include`` / ``exclude`` patterns (any blocks, contiguous or not).

Example recipe block::

    strategy:
      type: patterns
      include: ["bert.encoder.layer.1", "bert.encoder.layer.[45].*"]   # non-contiguous blocks
      exclude: ["*.LayerNorm.*"]
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from datasets import DatasetDict
from torch import nn
from transformers import default_data_collator

from ..data.images import without_augmentation
from ..errors import StrategyError
from ..modeling.blocks import find_blocks
from ..modeling.structure import split_backbone_and_head
from .base import StrategyConfig, TrainingData, TransferStrategy, register_strategy
from .feature_cache import cache_features
from .selection import select_parameters


def head_names(model: nn.Module) -> set[str]:
    return {name for name, _ in split_backbone_and_head(model)[1]}


@dataclass
class FullFineTuningConfig(StrategyConfig):
    """Every parameter trains. Pair it with a low learning rate (2e-5 … 5e-5)."""


@register_strategy("full", FullFineTuningConfig)
class FullFineTuning(TransferStrategy):
    """Full fine-tuning: every parameter of backbone and head trains."""

    def trainable_names(self, model: nn.Module) -> set[str]:
        return {name for name, _ in model.named_parameters()}


@dataclass
class FeatureExtractionConfig(StrategyConfig):
    """The pretrained backbone is frozen; only the new task head trains."""

    cache_features: bool = field(
        default=False,
        metadata={
            "help": "Compute the frozen backbone's pooled features once per split, then train the head on them "
            "(needs a pooled head: `pooling` other than `model`)."
        },
    )
    feature_cache_dir: str | None = field(
        default=None, metadata={"help": "Keep cached features on disk here (datasets format) and reuse them."}
    )
    extraction_dtype: str = field(
        default="float32",
        metadata={
            "help": "Precision of the one-off feature extraction: float32, or bfloat16 / float16 autocast (about "
            "3x faster on CPUs with AVX512-BF16; features agree to ~1e-4 cosine)."
        },
    )

    def __post_init__(self):
        if self.extraction_dtype not in ("float32", "bfloat16", "float16"):
            raise StrategyError(
                f"feature_extraction: extraction_dtype must be float32, bfloat16 or float16, got {self.extraction_dtype!r}."
            )


@register_strategy("feature_extraction", FeatureExtractionConfig)
class FeatureExtraction(TransferStrategy):
    """Feature extraction: freeze the pretrained backbone, train only the task head."""

    config: FeatureExtractionConfig
    default_pooling = "auto"

    def trainable_names(self, model: nn.Module) -> set[str]:
        return head_names(model)

    def apply(self, model: nn.Module, context=None) -> nn.Module:
        model = super().apply(model, context)
        if hasattr(model.config, "backbone_frozen"):  # hf_transfer's pooled heads (single- or multi-task)
            model.config.backbone_frozen = True  # fixed features: the backbone runs without dropout
        elif self.config.cache_features:
            raise StrategyError(
                "feature_extraction: cache_features needs a pooled head; set `pooling` to auto, mean, cls, max or "
                "pooler (not `model`)."
            )
        return model

    def training_data(
        self, model: nn.Module, data: TrainingData, args, processor, max_length: int
    ) -> TrainingData:
        """With ``cache_features``: the frozen backbone runs once per split and the head trains on its pooled
        features (see :mod:`~hf_transfer.strategies.feature_cache`); otherwise the data as it is."""
        if not self.config.cache_features:
            return data
        shared = self.config.feature_cache_dir is not None
        # with a cache folder, the main process extracts and writes first; the others then read its files
        with args.main_process_first(desc="feature extraction") if shared else contextlib.nullcontext():
            splits, seconds = cache_features(
                model,
                DatasetDict({split: without_augmentation(dataset) for split, dataset in data.splits.items()}),
                data.collator,
                batch_size=args.per_device_eval_batch_size,
                device=args.device,
                cache_dir=self.config.feature_cache_dir,
                dtype=self.config.extraction_dtype,
                processor=processor,
                max_length=max_length,
                progress=not args.disable_tqdm and args.local_process_index == 0,
            )
        report = {
            "extraction_seconds": seconds,
            "feature_size": int(splits["train"][0]["features"].shape[-1]),
        }
        return TrainingData(
            splits, default_data_collator, group_by_length=False, report={"feature_cache": report}
        )


@dataclass
class TopLayersConfig(StrategyConfig):
    """The top ``num_layers`` blocks train, with what sits above them and the head; the rest is frozen."""

    num_layers: int = field(default=2, metadata={"help": "How many blocks, counted from the top, train."})
    train_embeddings: bool = field(
        default=False, metadata={"help": "Also train what lies below the blocks (embeddings, stem)."}
    )
    train_top: bool = field(
        default=True, metadata={"help": "Train what lies above the blocks (pooler, final norm)."}
    )
    train_head: bool = field(default=True, metadata={"help": "Train the task head (almost always wanted)."})

    def __post_init__(self):
        if self.num_layers < 0:
            raise StrategyError(f"top_layers: `num_layers` must be ≥ 0, got {self.num_layers}.")


@register_strategy("top_layers", TopLayersConfig)
class TopLayers(TransferStrategy):
    """Top-N fine-tuning: train the top blocks (and the head), freeze the blocks below and the embeddings."""

    config: TopLayersConfig

    def trainable_names(self, model: nn.Module) -> set[str]:
        layout = find_blocks(model)
        n = self.config.num_layers
        if n > layout.num_blocks:
            raise StrategyError(
                f"top_layers: num_layers={n} but {type(model).__name__} has {layout.num_blocks} blocks "
                f"({layout.block_prefix}.0 … {layout.block_prefix}.{layout.num_blocks - 1}). Use at most "
                f"{layout.num_blocks}, or the `full` strategy."
            )
        names = {name for block in layout.blocks[layout.num_blocks - n :] for name in block}
        if self.config.train_top:
            names |= set(layout.top)
        if self.config.train_embeddings:
            names |= set(layout.bottom)
        if self.config.train_head:
            names |= set(layout.head)
        return names


@dataclass
class PatternsConfig(StrategyConfig):
    """Parameters whose names match ``include`` and not ``exclude`` train (plus the head unless told not to)."""

    include: list[str] = field(
        default_factory=list,
        metadata={"help": "Glob or full-match regex patterns on parameter / module names; empty means all."},
    )
    exclude: list[str] = field(
        default_factory=list, metadata={"help": "Patterns removed from the selection."}
    )
    train_head: bool = field(
        default=True, metadata={"help": "Train the task head whatever the patterns say."}
    )

    def __post_init__(self):
        for key in ("include", "exclude"):
            value = getattr(self, key)
            if isinstance(value, str):
                setattr(self, key, [value])
            elif not all(isinstance(p, str) for p in getattr(self, key)):
                raise StrategyError(f"patterns: `{key}` must be a list of pattern strings, got {value!r}.")
        if not self.include and not self.exclude:
            raise StrategyError(
                "patterns: give `include` and/or `exclude` patterns (or use the `full` strategy)."
            )


@register_strategy("patterns", PatternsConfig)
class Patterns(TransferStrategy):
    """Selective fine-tuning by name: include / exclude patterns (glob or regex), any blocks."""

    config: PatternsConfig

    def trainable_names(self, model: nn.Module) -> set[str]:
        every = {name for name, _ in model.named_parameters()}
        names = select_parameters(model, self.config.include) if self.config.include else set(every)
        names -= select_parameters(model, self.config.exclude, role="exclude")
        if self.config.train_head:
            names |= head_names(model)
        return names
