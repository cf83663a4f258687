"""Checkpoint loading, offline resolution (installed packages, locally prepared conversions) and
architecture-generic model structure."""

from .backbones import (
    OFFLINE_CHECKPOINTS,
    OfflineCheckpoint,
    ResolvedCheckpoint,
    is_vision_config,
    load_classifier,
    load_processor,
    resolve_checkpoint,
    trained_run_folder,
)
from .blocks import BlockLayout, assign_groups, find_blocks, format_trainable_table, layout_of
from .pooled import POOLINGS, PooledClassifier, PooledClassifierConfig, sentence_transformers_pooling
from .prepared import PREPARED_CHECKPOINTS, prepare_checkpoint, prepared_checkpoint_path
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
    "is_vision_config",
    "PREPARED_CHECKPOINTS",
    "prepare_checkpoint",
    "prepared_checkpoint_path",
    "load_classifier",
    "load_processor",
    "module_rows",
    "resolve_checkpoint",
    "trained_run_folder",
    "split_backbone_and_head",
]
