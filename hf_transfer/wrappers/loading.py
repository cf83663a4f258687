"""Loading what hf_transfer builds and saves: a multi-task model on a checkpoint's backbone, and a trained
classifier of any kind (stock, pooled, multi-task, or an adapter folder on its base model)."""

from __future__ import annotations

from pathlib import Path

from peft import PeftConfig, PeftModel
from torch import nn
from transformers import AutoConfig, PreTrainedModel

from ..modeling.backbones import (
    ResolvedCheckpoint,
    classifier_class,
    load_classifier,
    load_pooled_backbone,
    resolve_checkpoint,
    trained_run_folder,
)
from ..modeling.pooled import PooledClassifierConfig
from ..run_files import ADAPTER_CONFIG_FILE, MODEL_CONFIG_FILE
from .multitask import MultiTaskConfig, MultiTaskModel


def load_multitask_model(
    checkpoint: ResolvedCheckpoint,
    tasks: list[dict],
    pooling: str = "auto",
    loss_weighting: str = "fixed",
    revision: str = "main",
    cache_dir: str | None = None,
    trust_remote_code: bool = False,
) -> PreTrainedModel:
    """A :class:`~hf_transfer.wrappers.MultiTaskModel`: the checkpoint's backbone and one new head per task."""
    if pooling in ("model", None):  # a multi-task model has no checkpoint head to keep
        pooling = "auto"
    backbone, pooling = load_pooled_backbone(checkpoint, pooling, revision, cache_dir, trust_remote_code)
    return MultiTaskModel.from_backbone(
        backbone, tasks, pooling=pooling, loss_weighting=loss_weighting, backbone_name_or_path=checkpoint.requested
    )


def load_trained_classifier(path: str | Path, revision: str | None = None) -> nn.Module:
    """A classifier saved by hf_transfer: a stock, pooled or multi-task checkpoint, or an adapter folder on its
    base model; a local folder or the Hub repo it was pushed to (at ``revision``)."""
    path = trained_run_folder(path, revision)
    if not (path / ADAPTER_CONFIG_FILE).is_file():
        config = AutoConfig.from_pretrained(path)
        if isinstance(config, MultiTaskConfig):
            return MultiTaskModel.from_pretrained(path)
        return classifier_class(config).from_pretrained(path)
    base = resolve_checkpoint(PeftConfig.from_pretrained(path).base_model_name_or_path)
    config = AutoConfig.from_pretrained(path if (path / MODEL_CONFIG_FILE).is_file() else base.path)
    if isinstance(config, MultiTaskConfig):  # the adapter sits on a multi-task model: rebuild it, then load
        model = load_multitask_model(base, config.tasks, config.pooling, config.loss_weighting)
    elif isinstance(config, PooledClassifierConfig):  # the adapter sits on hf_transfer's pooled head
        model = load_classifier(base, id2label=config.id2label, pooling=config.pooling)
    else:
        model = classifier_class(config).from_pretrained(
            base.path, config=config, ignore_mismatched_sizes=True
        )
    return PeftModel.from_pretrained(model, path)
