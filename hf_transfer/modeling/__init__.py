"""Checkpoint loading, offline resolution and architecture-generic model structure."""

from .backbones import (
    OFFLINE_CHECKPOINTS,
    OfflineCheckpoint,
    ResolvedCheckpoint,
    load_classifier,
    load_multitask_model,
    load_processor,
    load_trained_classifier,
    resolve_checkpoint,
)
from .blocks import BlockLayout, assign_groups, find_blocks, format_trainable_table, layout_of
from .pooled import POOLINGS, PooledClassifier, PooledClassifierConfig, sentence_transformers_pooling
from .structure import count_parameters, format_module_tree, module_rows, split_backbone_and_head

__all__ = [
    "assign_groups",
    "format_trainable_table",
    "layout_of",
    "POOLINGS",
    "PooledClassifier",
    "PooledClassifierConfig",
    "sentence_transformers_pooling",
    "BlockLayout",
    "find_blocks",
    "OFFLINE_CHECKPOINTS",
    "OfflineCheckpoint",
    "ResolvedCheckpoint",
    "count_parameters",
    "format_module_tree",
    "input_channels",
    "is_vision_config",
    "load_multitask_model",
    "load_classifier",
    "load_processor",
    "load_trained_classifier",
    "module_rows",
    "resolve_checkpoint",
    "split_backbone_and_head",
]
