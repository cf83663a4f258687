"""``DomainAdversarialModel``: a task model plus domain alignment on the features its head reads.

The wrapper takes any task model (a stock ``…ForSequenceClassification`` / ``…ForImageClassification``,
hf_transfer's ``PooledClassifier``, or a PEFT-wrapped one), captures the features entering its head with a
forward pre-hook, and adds one alignment loss between source and target rows of each batch:

- ``dann``: a domain discriminator (an MLP) behind a gradient-reversal layer (Ganin et al., 2016);
- ``coral``: Deep CORAL covariance alignment; ``mmd``: multi-kernel MMD;
- ``source_only``: no alignment (the baseline, same data path).

``loss = task_loss (labelled source rows) + domain_loss_weight · domain_loss (source and target rows)``.
The task loss is the task model's own (a classifier's cross-entropy, a multi-task model's weighted sum);
unlabelled target rows carry its "no label" marker (``-100``, or NaN in a multi-task label vector) and add
nothing to it; ``domains`` (0 source, 1 target) mark the domains. The discriminator is dropped at export: :meth:`task_model` saves as a stock folder.

Example::

    >>> model = DomainAdversarialModel.wrap(task_model, alignment="dann")
    >>> out = model(input_ids=ids, attention_mask=mask, labels=labels, domains=domains)
    >>> out.loss, out.loss_parts["task_loss"], out.loss_parts["domain_loss"], out.loss_parts["domain_accuracy"]
"""

from __future__ import annotations

from dataclasses import dataclass

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
from transformers.utils import ModelOutput

from ..errors import StrategyError
from ..modeling.pooled import config_from_dict
from ..modeling.structure import split_backbone_and_head
from .alignment import CoralLoss, DomainAdversarialLoss, MultiKernelMMDLoss
from .grl import GradientReversal
from .multitask import MultiTaskConfig
from .target_losses import ConsistencyLoss, MaskedLanguageModelHead, MinimumClassConfusionLoss

ALIGNMENTS = ("dann", "coral", "mmd", "mcc", "fixmatch", "udalm", "adabn", "source_only")
LOGIT_LOSSES = ("mcc", "fixmatch")  # losses on the target rows' predictions
FEATURE_ALIGNMENTS = ("dann", "coral", "mmd")  # losses on the pooled features of both domains
IMAGE_INPUTS = "pixel_values"


@dataclass
class DomainAdaptationOutput(ModelOutput):
    """Loss first (what Trainer optimises), logits, then ``loss_parts`` (training batches only): ``task_loss``,
    ``domain_loss``, ``domain_accuracy`` (dann) and the task model's own parts, each a 0-dim tensor."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    loss_parts: dict[str, torch.Tensor] | None = None


class DomainAdversarialConfig(PretrainedConfig):
    """The task model's config (as a dict), the alignment method and the discriminator's shape."""

    model_type = "hf_transfer_domain_adversarial"

    def __init__(
        self,
        task_model: dict | None = None,
        task_model_class: str = "AutoModelForSequenceClassification",
        alignment: str = "dann",
        domain_loss_weight: float = 1.0,
        discriminator_layers: int = 2,
        discriminator_hidden: int = 256,
        discriminator_dropout: float = 0.1,
        feature_size: int | None = None,
        mcc_temperature: float = 2.5,
        mlm_weight: float = 1.0,
        fixmatch_threshold: float = 0.95,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if alignment not in ALIGNMENTS:
            raise StrategyError(f"Unknown alignment {alignment!r}; use one of {', '.join(ALIGNMENTS)}.")
        self.task_model = task_model
        self.task_model_class = task_model_class
        self.alignment = alignment
        self.domain_loss_weight = domain_loss_weight
        self.discriminator_layers = discriminator_layers
        self.discriminator_hidden = discriminator_hidden
        self.discriminator_dropout = discriminator_dropout
        self.feature_size = feature_size
        self.mcc_temperature = mcc_temperature
        self.mlm_weight = mlm_weight
        self.fixmatch_threshold = fixmatch_threshold

    @property
    def task_config(self) -> PretrainedConfig:
        return config_from_dict(self.task_model)


def discriminator(feature_size: int, layers: int, hidden: int, dropout: float) -> nn.Sequential:
    """An MLP ``feature_size → hidden (× layers, ReLU, dropout) → 1`` giving the target-domain logit."""
    modules: list[nn.Module] = []
    width = feature_size
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden
    modules.append(nn.Linear(width, 1))
    return nn.Sequential(*modules)


def head_entry(task_model: nn.Module) -> nn.Module:
    """The first module of the task head (its input is the pooled feature the head classifies)."""
    base = task_model.get_base_model() if hasattr(task_model, "get_base_model") else task_model
    head_roots = {name.split(".")[0] for name, _ in split_backbone_and_head(base)[1]}
    for name, module in base.named_children():
        if name in head_roots:
            while isinstance(
                module, (nn.ModuleDict, nn.ModuleList)
            ):  # a head per task, all read the same features
                module = next(iter(module.children()))
            return module
    raise StrategyError(f"Cannot find the head of {type(base).__name__} to read its features.")


def pool_features(features: torch.Tensor) -> torch.Tensor:
    """(batch, d) as is; (batch, tokens, d) → the first token; (batch, c, h, w) → the spatial mean."""
    if features.dim() == 3:
        return features[:, 0]
    if features.dim() == 4:
        return features.mean(dim=(2, 3))
    return features.flatten(1)


class DomainAdversarialModel(PreTrainedModel):
    """A task model with source/target feature alignment; registered with the Auto classes."""

    config_class = DomainAdversarialConfig
    base_model_prefix = "task_model"

    def __init__(self, config: DomainAdversarialConfig, task_model: nn.Module | None = None):
        super().__init__(config)
        if task_model is None:
            auto = {
                "AutoModelForImageClassification": AutoModelForImageClassification,
                "AutoModel": AutoModel,
            }.get(config.task_model_class, AutoModelForSequenceClassification)
            task_model = auto.from_config(config.task_config)
        self.task_model = task_model
        self.reversal = GradientReversal(coeff=1.0)
        if config.alignment == "dann":  # the loss module owns the discriminator (one copy in the state dict)
            mlp = discriminator(
                config.feature_size,
                config.discriminator_layers,
                config.discriminator_hidden,
                config.discriminator_dropout,
            )
            self.alignment_loss = DomainAdversarialLoss(mlp, self.reversal)
        elif config.alignment == "mcc":
            self.alignment_loss = MinimumClassConfusionLoss(config.mcc_temperature)
        elif config.alignment == "fixmatch":
            self.alignment_loss = ConsistencyLoss(config.fixmatch_threshold)
        else:
            self.alignment_loss = {"coral": CoralLoss, "mmd": MultiKernelMMDLoss}.get(
                config.alignment, lambda: None
            )()
        self.task_loss_function: nn.Module | None = None  # set for class weights: the loss from the task logits
        self._captured: list[torch.Tensor] = []
        self._capturing = False
        head_entry(self.task_model).register_forward_pre_hook(self._capture)
        if config.alignment == "udalm":  # masked-LM on the target rows, through the task model's own encoder
            task_config = config.task_config
            self.mlm_head = MaskedLanguageModelHead(
                task_config.hidden_size,
                task_config.vocab_size,
                getattr(task_config, "hidden_act", "gelu"),
                getattr(task_config, "layer_norm_eps", 1e-12),
            )
            self._hidden: list[torch.Tensor] = []
            encoder_of(self.task_model).register_forward_hook(self._capture_hidden)
        self.post_init()

    @property
    def discriminator(self) -> nn.Module | None:
        """The domain discriminator (``dann`` only)."""
        return getattr(self.alignment_loss, "discriminator", None)

    def _init_weights(self, module: nn.Module) -> None:
        owned = [*(self.discriminator or ()), *([self.mlm_head.dense] if hasattr(self, "mlm_head") else [])]
        if isinstance(module, nn.Linear) and module in owned:
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def _capture(self, module, args) -> None:
        if self._capturing:  # only inside this wrapper's forward, not when the task model runs alone
            self._captured.append(args[0])

    def _capture_hidden(self, module, args, output) -> None:
        if self._capturing:
            self._hidden.append(output[0])

    @classmethod
    def wrap(cls, task_model: nn.Module, alignment: str = "dann", **options) -> DomainAdversarialModel:
        """Wrap a (possibly PEFT-wrapped) task model; ``options`` are :class:`DomainAdversarialConfig` fields."""
        base = task_model.get_base_model() if hasattr(task_model, "get_base_model") else task_model
        config = DomainAdversarialConfig(
            task_model=base.config.to_dict(),
            task_model_class=_auto_class_name(base),
            alignment=alignment,
            feature_size=_feature_size(task_model),
            id2label=base.config.id2label,
            label2id=base.config.label2id,
            **options,
        )
        return cls(config, task_model=task_model)

    @property
    def lambda_(self) -> float:
        return self.reversal.coeff

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        domains: torch.Tensor | None = None,
        # (not "*labels*": the Trainer would take such a name for a label column)
        mlm_targets: torch.Tensor | None = None,
        strong_pixel_values: torch.Tensor | None = None,  # fixmatch: the strongly augmented view of every row
        **kwargs,
    ) -> DomainAdaptationOutput:
        named = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "pixel_values": pixel_values,
        }
        inputs = {**{k: v for k, v in named.items() if v is not None}, **kwargs}
        # The task model's own loss: unlabelled (target) rows carry its "no label" marker, which that loss ignores
        # (-100 for a class id, NaN in a multi-task label vector). A batch of class ids without any label gets 0.
        unlabelled = labels is not None and not labels.is_floating_point() and not (labels != -100).any()
        weighted = self.task_loss_function is not None and labels is not None and not labels.is_floating_point()
        task_labels = labels
        strong_rows = 0
        if self.config.alignment == "fixmatch" and domains is not None and (domains == 1).any():
            # FixMatch forwards the strong views in the same batch as the labelled and weak rows (as its reference
            # implementation does), so that batch-norm statistics see all three, never strong views alone.
            inputs["pixel_values"], task_labels, strong_rows = _with_strong_views(
                pixel_values, strong_pixel_values, domains == 1, labels
            )
        self._captured.clear()
        hidden = getattr(self, "_hidden", [])
        hidden.clear()
        self._capturing = True
        try:
            task_output = self.task_model(
                **inputs, **({} if labels is None or unlabelled or weighted else {"labels": task_labels})
            )
        finally:
            self._capturing = False
        logits = task_output.logits
        features = pool_features(self._captured[-1])
        self._captured.clear()
        strong_logits = None
        if strong_rows:
            logits, strong_logits = logits[:-strong_rows], logits[-strong_rows:]
            features = features[:-strong_rows]
        task_loss = None if labels is None else logits.sum() * 0.0 if unlabelled else task_output.loss
        if weighted and not unlabelled:
            task_loss = self.task_loss_function(logits, labels)  # class weights (`class_weight`)
        if domains is None:  # evaluation / prediction: the task path alone
            hidden.clear()
            return DomainAdaptationOutput(loss=task_loss, logits=logits)
        parts = dict(task_output.get("loss_parts") or {})
        parts["task_loss"] = task_loss
        loss = task_loss
        alignment = self.config.alignment
        if alignment in FEATURE_ALIGNMENTS or alignment in LOGIT_LOSSES:
            domain_loss = self._alignment_term(features, logits, domains, parts, strong_logits)
            loss = loss + self.config.domain_loss_weight * domain_loss if loss is not None else None
        if alignment == "udalm":
            mlm_loss = parts["mlm_loss"] = self._mlm_term(hidden, mlm_targets)
            loss = loss + self.config.mlm_weight * mlm_loss if loss is not None else None
        hidden.clear()
        return DomainAdaptationOutput(loss=loss, logits=logits, loss_parts=parts)

    def _alignment_term(self, features, logits, domains, parts, strong_logits=None) -> torch.Tensor:
        """The domain term: a feature alignment of both domains (dann, coral, mmd), MCC on the target logits, or
        FixMatch's consistency between the target rows' weak and strong views (``strong_logits``, one per
        target row, from the same forward)."""
        domain_loss = parts["domain_loss"] = logits.new_zeros(())
        if isinstance(self.alignment_loss, ConsistencyLoss):
            if strong_logits is not None:
                domain_loss = parts["domain_loss"] = self.alignment_loss(logits[domains == 1], strong_logits)
                parts["mask_rate"] = logits.new_tensor(self.alignment_loss.last_mask_rate)
            return domain_loss
        if isinstance(self.alignment_loss, MinimumClassConfusionLoss):
            if (domains == 1).any():
                domain_loss = parts["domain_loss"] = self.alignment_loss(logits[domains == 1])
            return domain_loss
        source, target = features[domains == 0], features[domains == 1]
        if isinstance(self.alignment_loss, DomainAdversarialLoss):
            parts["domain_accuracy"] = logits.new_tensor(float("nan"))
        if self.alignment_loss is not None and len(source) > 1 and len(target) > 1:
            domain_loss = parts["domain_loss"] = self.alignment_loss(source.float(), target.float())
            if isinstance(self.alignment_loss, DomainAdversarialLoss):
                parts["domain_accuracy"] = logits.new_tensor(self.alignment_loss.last_accuracy)
        return domain_loss

    def _mlm_term(self, hidden: list[torch.Tensor], mlm_targets: torch.Tensor | None) -> torch.Tensor:
        """Masked-LM cross-entropy on the (masked) target rows; their ``mlm_targets`` come from the collator."""
        if mlm_targets is None or not hidden:
            raise StrategyError(
                "udalm needs masked target rows (`mlm_targets`): train it through the domain_adaptation objective, "
                "whose collator masks the target text."
            )
        embeddings = encoder_of(self.task_model).get_input_embeddings().weight
        return self.mlm_head(hidden[-1], mlm_targets, embeddings)

    def logged_values(self) -> dict[str, float]:
        """What the Trainer logs beside the loss parts: λ, and the task model's own values (task weights)."""
        task = (
            self.task_model.get_base_model()
            if hasattr(self.task_model, "get_base_model")
            else self.task_model
        )
        values = task.logged_values() if callable(getattr(task, "logged_values", None)) else {}
        return {
            **values,
            **({"lambda": round(self.reversal.coeff, 4)} if self.config.alignment == "dann" else {}),
        }


def _with_strong_views(
    pixel_values: torch.Tensor | None,
    strong_pixel_values: torch.Tensor | None,
    target: torch.Tensor,
    labels: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """FixMatch's one batch: the rows, then the strong view of each target row (labelled "no label": -100 for a
    class id, NaN in a multi-task label vector). Returns the pixel values, the labels and the number of strong
    rows appended."""
    if pixel_values is None or strong_pixel_values is None:
        raise StrategyError(
            "fixmatch needs `pixel_values` and `strong_pixel_values` (each target image's strongly augmented view): "
            "train it through the domain_adaptation objective, which adds them."
        )
    strong = strong_pixel_values[target]
    if labels is not None:
        marker = float("nan") if labels.is_floating_point() else -100
        labels = torch.cat([labels, labels.new_full((len(strong), *labels.shape[1:]), marker)])
    return torch.cat([pixel_values, strong.to(pixel_values.dtype)]), labels, len(strong)


def encoder_of(task_model: nn.Module) -> nn.Module:
    """The transformer encoder of a (possibly PEFT-wrapped) text classifier (``bert``, ``roberta``…)."""
    base = task_model.get_base_model() if hasattr(task_model, "get_base_model") else task_model
    encoder = base.base_model
    if encoder is base or not hasattr(encoder, "get_input_embeddings"):
        raise StrategyError(
            f"udalm needs a text classifier with a transformer encoder; {type(base).__name__} has none to "
            "train on masked target text. Use dann, mcc or source_only."
        )
    return encoder


def _auto_class_name(base: nn.Module) -> str:
    """The Auto class that rebuilds the task model from its config."""
    if isinstance(base.config, MultiTaskConfig):
        return "AutoModel"
    return (
        "AutoModelForImageClassification"
        if base.main_input_name == IMAGE_INPUTS
        else "AutoModelForSequenceClassification"
    )


def _feature_size(task_model: nn.Module) -> int:
    """The width of the features entering the head, read from the head's first linear layer."""
    for module in head_entry(task_model).modules():
        if isinstance(module, nn.Linear):
            return module.in_features
    raise StrategyError(f"Cannot tell the feature size of {type(task_model).__name__}'s head.")


AutoConfig.register(DomainAdversarialConfig.model_type, DomainAdversarialConfig)
AutoModelForSequenceClassification.register(DomainAdversarialConfig, DomainAdversarialModel)
AutoModelForImageClassification.register(DomainAdversarialConfig, DomainAdversarialModel)
