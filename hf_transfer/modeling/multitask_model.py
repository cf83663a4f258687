"""``MultiTaskModel``: one shared backbone (text or vision) and one head per task, as a ``PreTrainedModel``.

Each task has a kind, the transformers ``problem_type`` names:

- ``single_label_classification``: one class per row, cross-entropy; label column width 1 (the class id);
- ``multi_label_classification``: any subset of the classes, binary cross-entropy; width = number of classes;
- ``regression``: one number, mean squared error; width 1.

Labels travel as one float tensor ``labels`` of shape ``(batch, label_width)``: each task owns a slice of the
columns (:meth:`MultiTaskConfig.label_slices`), and ``NaN`` marks a missing label. A row contributes to a
task's loss only where that task's label is present, so batches may hold rows of one task (homogeneous) or of
several (mixed) alike. Every head stays in the autograd graph (with a zero gradient when its task is absent),
so data-parallel runs need no ``find_unused_parameters`` whichever task each rank drew.

``loss = Σ_t w_t · L_t`` (``fixed``) or, with ``uncertainty`` weighting (Kendall et al., 2018) and learned
``s_t = log σ_t²``: ``loss = Σ_t c_t · exp(−s_t) · L_t + s_t / 2`` with ``c_t = 1/2`` for regression, else 1;
both sums run over the tasks present in the batch. ``logits`` concatenate the tasks' outputs;
:meth:`MultiTaskModel.split_logits` cuts them per task.

Example::

    >>> from transformers import AutoModel
    >>> tasks = [{"name": "sentiment", "kind": "single_label_classification", "labels": ["neg", "pos"]},
    ...          {"name": "rating", "kind": "regression"}]
    >>> model = MultiTaskModel.from_backbone(AutoModel.from_pretrained(path), tasks, pooling="mean")
    >>> out = model(input_ids=ids, attention_mask=mask, labels=labels)      # labels: (batch, 2), NaN = missing
    >>> out.loss, model.split_logits(out.logits)["sentiment"].shape
    >>> model.save_pretrained("out"); AutoModel.from_pretrained("out")     # after `import hf_transfer`

This file imports only torch, transformers and its sibling ``pooled_model.py``, so it travels with every saved
multi-task model (``auto_map``): ``AutoModel.from_pretrained(folder, trust_remote_code=True)`` loads it where
hf_transfer is not installed (a folder holding only an adapter on it too: see ``pooled_model.py``). Invalid task
tables raise ``ValueError``; hf_transfer checks recipes before they get here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from .pooled_model import (
    POOLINGS,
    PooledFeaturesMixin,
    backbone_dict,
    config_from_dict,
    feature_size,
    set_auto_map,
)

TASK_KINDS = ("single_label_classification", "multi_label_classification", "regression")
LOSS_WEIGHTINGS = ("fixed", "uncertainty")


def _did_you_mean(name: str, candidates) -> str:
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?" if matches else ""


def check_task(task: dict[str, Any]) -> dict[str, Any]:
    """A task entry with its defaults; raises ``ValueError`` naming the fix when it is invalid."""
    task = {"weight": 1.0, "labels": None, **task}
    name, kind = task.get("name"), task.get("kind")
    if not name or not isinstance(name, str):
        raise ValueError(f"Every task needs a `name` (a string); got {task!r}.")
    if kind not in TASK_KINDS:
        raise ValueError(
            f"Task {name!r}: unknown kind {kind!r}.{_did_you_mean(str(kind), TASK_KINDS)} "
            f"Use one of {', '.join(TASK_KINDS)}."
        )
    if kind == "single_label_classification" and len(task["labels"] or []) < 2:
        raise ValueError(f"Task {name!r}: a single-label classification task needs at least 2 labels.")
    if kind == "multi_label_classification" and not task["labels"]:
        raise ValueError(f"Task {name!r}: a multi-label task needs its label names.")
    if kind == "regression":
        task["labels"] = None
    if task["weight"] < 0:
        raise ValueError(f"Task {name!r}: weight must be ≥ 0, got {task['weight']}.")
    return task


class MultiTaskConfig(PretrainedConfig):
    """The backbone's config (as a dict), the pooling, the task table and the loss weighting."""

    model_type = "hf_transfer_multitask"

    def __init__(
        self,
        backbone: dict | None = None,
        tasks: list[dict] | None = None,
        pooling: str = "mean",
        classifier_dropout: float = 0.1,
        loss_weighting: str = "fixed",
        backbone_frozen: bool = False,
        backbone_name_or_path: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.backbone_name_or_path = backbone_name_or_path  # the Hub id (or the name given), never a local path
        self.tasks = [check_task(task) for task in tasks or []]
        names = [task["name"] for task in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"Task names must be unique, got {names}.")
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}.")
        if loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(
                f"Unknown loss_weighting {loss_weighting!r}: use one of {', '.join(LOSS_WEIGHTINGS)}."
            )
        self.pooling = pooling
        self.classifier_dropout = classifier_dropout
        self.loss_weighting = loss_weighting
        self.backbone_frozen = backbone_frozen

    @property
    def backbone_config(self) -> PretrainedConfig:
        return config_from_dict(self.backbone)

    @property
    def task_names(self) -> list[str]:
        return [task["name"] for task in self.tasks]

    @staticmethod
    def output_width(task: dict) -> int:
        return 1 if task["kind"] == "regression" else len(task["labels"])

    @staticmethod
    def label_width(task: dict) -> int:
        return len(task["labels"]) if task["kind"] == "multi_label_classification" else 1

    def _slices(self, width) -> dict[str, slice]:
        slices, start = {}, 0
        for task in self.tasks:
            slices[task["name"]] = slice(start, start + width(task))
            start += width(task)
        return slices

    def label_slices(self) -> dict[str, slice]:
        """Columns of ``labels`` that belong to each task."""
        return self._slices(self.label_width)

    def logit_slices(self) -> dict[str, slice]:
        """Columns of ``logits`` that belong to each task."""
        return self._slices(self.output_width)


@dataclass
class MultiTaskOutput(ModelOutput):
    """Loss first, then every task's logits concatenated, then ``loss_parts`` (training batches only):
    ``loss_<task>`` per task, a 0-dim tensor, ``NaN`` for a task absent from the batch."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    loss_parts: dict[str, torch.Tensor] | None = None


class UncertaintyWeighting(nn.Module):
    """Learned task weights (Kendall et al., 2018): ``Σ_t c_t · exp(−s_t) · L_t + s_t / 2`` over present tasks.

    ``log_variances`` holds ``s_t = log σ_t²`` (shape ``(tasks,)``, starting at 0: every weight 1);
    ``scales`` holds ``c_t`` (1/2 for regression, 1 for classification).
    """

    def __init__(self, scales: list[float]):
        super().__init__()
        self.log_variances = nn.Parameter(torch.zeros(len(scales)))
        self.register_buffer("scales", torch.tensor(scales), persistent=False)

    def forward(self, losses: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``losses`` and ``present`` (0/1): shape ``(tasks,)``. Returns the scalar total."""
        s = self.log_variances
        return (present * (self.scales * torch.exp(-s) * losses + 0.5 * s)).sum()


def task_loss(
    kind: str, logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One task's mean loss over the rows whose label is present, and whether any row was (0-dim float).

    ``labels`` is the task's slice of the batch labels, ``(batch, width)`` with ``NaN`` where missing. Missing rows
    stay in the graph with weight 0, so the head always gets a (zero) gradient. ``class_weights`` ``(classes,)``
    (single-label tasks): each row weighs ``w_{y_i}`` and the mean is over those weights,
    ``Σ_i w_{y_i} CE_i / Σ_i w_{y_i}``.
    """
    missing = labels.isnan().any(dim=-1)
    present = (~missing).to(logits.dtype)
    filled = labels.nan_to_num(0.0)
    if kind == "single_label_classification" and class_weights is not None:
        ids = filled[:, 0].long()
        row_weights = class_weights.to(device=logits.device, dtype=logits.dtype)[ids] * present
        per_row = nn.functional.cross_entropy(logits, ids, reduction="none")
        return (per_row * row_weights).sum() / row_weights.sum().clamp(min=1e-12), (present.sum() > 0).to(
            logits.dtype
        )
    if kind == "single_label_classification":
        per_row = nn.functional.cross_entropy(logits, filled[:, 0].long(), reduction="none")
    elif kind == "multi_label_classification":
        per_row = nn.functional.binary_cross_entropy_with_logits(
            logits, filled.to(logits.dtype), reduction="none"
        ).mean(dim=-1)
    else:
        per_row = (logits[:, 0] - filled[:, 0].to(logits.dtype)) ** 2
    count = present.sum()
    return (per_row * present).sum() / count.clamp(min=1), (count > 0).to(logits.dtype)


class MultiTaskModel(PooledFeaturesMixin, PreTrainedModel):
    """A shared backbone, a pooling, and one ``dropout → linear`` head per task in ``heads``."""

    config_class = MultiTaskConfig
    base_model_prefix = "backbone"
    main_input_name = "input_ids"
    accepts_loss_kwargs = False  # the loss is averaged per task inside forward

    def __init__(self, config: MultiTaskConfig):
        super().__init__(config)
        self.backbone = AutoModel.from_config(config.backbone_config)
        self.main_input_name = self.backbone.main_input_name
        hidden = feature_size(config.backbone_config, self.backbone)
        self.heads = nn.ModuleDict(
            {
                task["name"]: nn.Sequential(
                    nn.Dropout(config.classifier_dropout), nn.Linear(hidden, config.output_width(task))
                )
                for task in config.tasks
            }
        )
        if config.loss_weighting == "uncertainty":
            scales = [0.5 if task["kind"] == "regression" else 1.0 for task in config.tasks]
            self.loss_weighting = UncertaintyWeighting(scales)
        self.class_weights: dict[str, torch.Tensor] = {}  # per task, for `class_weight` (training only, not saved)
        set_auto_map(self, config, "AutoModel")
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear) and any(
            module is head[-1] for head in getattr(self, "heads", {}).values()
        ):
            nn.init.normal_(
                module.weight, std=getattr(self.config.backbone_config, "initializer_range", 0.02)
            )
            nn.init.zeros_(module.bias)

    @classmethod
    def from_backbone(
        cls,
        backbone: PreTrainedModel,
        tasks: list[dict],
        pooling: str = "mean",
        classifier_dropout: float = 0.1,
        loss_weighting: str = "fixed",
        backbone_name_or_path: str | None = None,
    ) -> MultiTaskModel:
        """New heads on a pretrained backbone (its weights are kept); ``backbone_name_or_path`` as in
        ``PooledClassifier.from_backbone``."""
        config = MultiTaskConfig(
            backbone=backbone_dict(backbone.config),
            backbone_name_or_path=backbone_name_or_path,
            tasks=tasks,
            pooling=pooling,
            classifier_dropout=classifier_dropout,
            loss_weighting=loss_weighting,
        )
        model = cls(config)
        model.backbone = backbone
        model.main_input_name = backbone.main_input_name
        return model

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def split_logits(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every task's logits from the concatenated ``logits`` (works on numpy arrays too)."""
        return {name: logits[..., cut] for name, cut in self.config.logit_slices().items()}

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> MultiTaskOutput:
        features = self.extract_features(
            attention_mask=attention_mask,
            input_ids=input_ids,
            token_type_ids=token_type_ids,
            pixel_values=pixel_values,
        )
        dtype = next(self.heads.parameters()).dtype
        outputs = {name: head(features.to(dtype)) for name, head in self.heads.items()}
        logits = torch.cat([outputs[name] for name in self.config.task_names], dim=-1)
        if labels is None:
            return MultiTaskOutput(logits=logits)
        label_slices = self.config.label_slices()
        losses, present = [], []
        for task in self.config.tasks:
            loss, seen = task_loss(
                task["kind"],
                outputs[task["name"]],
                labels[:, label_slices[task["name"]]],
                self.class_weights.get(task["name"]),
            )
            losses.append(loss)
            present.append(seen)
        losses, present = torch.stack(losses), torch.stack(present)
        if self.config.loss_weighting == "uncertainty":
            total = self.loss_weighting(losses, present)
        else:
            weights = torch.tensor([t["weight"] for t in self.config.tasks], device=losses.device)
            total = (weights * losses * present).sum()
        parts = None
        if self.training:
            detached = torch.where(present > 0, losses.detach(), torch.nan)
            parts = {
                f"loss_{name}": value for name, value in zip(self.config.task_names, detached, strict=True)
            }
        return MultiTaskOutput(loss=total, logits=logits, loss_parts=parts)

    def logged_values(self) -> dict[str, float]:
        """The learned uncertainty weights ``exp(−s_t)`` per task (while they train), for the training logs."""
        weighting = getattr(self, "loss_weighting", None)
        if weighting is None or not weighting.log_variances.requires_grad:
            return {}
        weights = torch.exp(-weighting.log_variances.detach().float()).tolist()
        return {f"weight_{n}": round(w, 4) for n, w in zip(self.config.task_names, weights, strict=True)}


# save_pretrained copies this file (and pooled_model.py, which it imports) into every saved folder
MultiTaskConfig.register_for_auto_class()
MultiTaskModel.register_for_auto_class("AutoModel")
