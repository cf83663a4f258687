"""PEFT adapters (LoRA, DoRA, rsLoRA, IA³, AdaLoRA, LoHa, LoKr) placed on chosen blocks.

The recipe's block selectors are translated to PEFT's own config fields: ``top_layers`` and ``layers`` to
``layers_to_transform`` + ``layers_pattern``, ``patterns`` to an explicit ``target_modules`` list. The task
head goes in ``modules_to_save``, so a saved adapter reloads with its head under stock ``peft``.

Example recipe block (LoRA on the query/value projections of the top two blocks)::

    strategy:
      type: peft
      method: lora
      r: 8
      alpha: 16
      target_modules: [query, value]
      top_layers: 2
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

import peft
from peft.utils import constants
from torch import nn
from transformers import TrainerCallback

from ..errors import StrategyError, unknown_keys
from ..modeling.blocks import find_blocks
from ..modeling.structure import split_backbone_and_head
from .base import StrategyConfig, TransferStrategy, register_strategy
from .selection import nearest_names, pattern_matches

PEFT_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "lora": ("LoraConfig", {}),
    "dora": ("LoraConfig", {"use_dora": True}),
    "rslora": ("LoraConfig", {"use_rslora": True}),
    "ia3": ("IA3Config", {}),
    "adalora": ("AdaLoraConfig", {}),
    "loha": ("LoHaConfig", {}),
    "lokr": ("LoKrConfig", {}),
}
RANKED = {"lora", "dora", "rslora", "adalora", "loha", "lokr"}
METHOD_FREE_OPTIONS = {"ia3": ("r", "alpha", "dropout")}  # options a method does not have
ADAPTABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Embedding)


@dataclass
class PeftAdapterConfig(StrategyConfig):
    """Adapters on chosen blocks; the backbone stays frozen, adapters and head train."""

    method: str = field(default="lora", metadata={"help": f"PEFT method: {', '.join(PEFT_METHODS)}."})
    r: int = field(default=8, metadata={"help": "Adapter rank (LoRA family, AdaLoRA's target rank)."})
    alpha: float = field(default=16, metadata={"help": "LoRA scaling numerator (lora_alpha)."})
    dropout: float = field(default=0.1, metadata={"help": "Dropout on the adapter input."})
    target_modules: list[str] | None = field(
        default=None,
        metadata={
            "help": "Module-name suffixes to adapt (e.g. [query, value]); default: PEFT's choice for the architecture."
        },
    )
    top_layers: int | None = field(default=None, metadata={"help": "Only the top N blocks get adapters."})
    layers: list[int] | None = field(
        default=None,
        metadata={"help": "Only these block indices get adapters (negative counts from the top)."},
    )
    patterns: list[str] | None = field(
        default=None, metadata={"help": "Only modules matching these glob / regex patterns get adapters."}
    )
    train_head: bool = field(
        default=True, metadata={"help": "Train and save the task head (modules_to_save)."}
    )
    merge: bool = field(
        default=False, metadata={"help": "Also export a merged stock model to <output_dir>/merged."}
    )
    options: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Extra keyword arguments for the PEFT config class."}
    )

    def __post_init__(self):
        if self.method not in PEFT_METHODS:
            raise StrategyError(
                f"peft: unknown method {self.method!r}; use one of {', '.join(PEFT_METHODS)}."
            )
        selectors = [k for k in ("top_layers", "layers", "patterns") if getattr(self, k) is not None]
        if len(selectors) > 1:
            raise StrategyError(f"peft: choose one block selector, got {', '.join(selectors)}.")
        if self.top_layers is not None and self.top_layers < 1:
            raise StrategyError(f"peft: `top_layers` must be ≥ 1, got {self.top_layers}.")
        if self.method in RANKED and self.r < 1:
            raise StrategyError(f"peft: `r` must be ≥ 1, got {self.r}.")
        for key in ("target_modules", "patterns"):
            if isinstance(getattr(self, key), str):
                setattr(self, key, [getattr(self, key)])
        defaults = {f.name: f.default for f in fields(self)}
        unused = [k for k in METHOD_FREE_OPTIONS.get(self.method, ()) if getattr(self, k) != defaults[k]]
        if unused:
            raise StrategyError(
                f"peft: method {self.method!r} has no {', '.join(f'`{k}`' for k in unused)} option: drop it, or "
                "choose a method that has it (lora, dora, rslora, adalora, loha, lokr)."
            )
        class_name = PEFT_METHODS[self.method][0]
        hints = unknown_keys(self.options, _fields(class_name))
        if hints:
            raise StrategyError(
                f"peft: unknown `options` key(s) for method {self.method!r} ({class_name}): {hints} See peft's "
                f"{class_name} for its fields."
            )


def head_modules(model: nn.Module) -> list[str]:
    """Module names holding the head's parameters (PEFT's ``modules_to_save``): the top-level modules, or the
    members of a top-level ``ModuleDict`` / ``ModuleList`` (a multi-task model's ``heads.sentiment``…), since
    PEFT's wrapper cannot stand in for a container."""
    modules = dict(model.named_modules())
    names = set()
    for name, _ in split_backbone_and_head(model)[1]:
        parts = name.split(".")
        top = parts[0]
        if isinstance(modules.get(top), (nn.ModuleDict, nn.ModuleList)) and len(parts) > 2:
            top = f"{parts[0]}.{parts[1]}"
        names.add(top)
    return sorted(names)


def _model_type(model: nn.Module) -> str | None:
    """The backbone's model type (``bert``, ``vit``…), also under hf_transfer's pooled head."""
    backbone = getattr(model, getattr(model, "base_model_prefix", ""), None)
    config = getattr(backbone, "config", None) or getattr(model, "config", None)
    return getattr(config, "model_type", None)


# Attention projections for architectures PEFT has no (or outdated) defaults for.
FALLBACK_TARGETS = {
    "distilbert": ["q_lin", "v_lin"],
    "mpnet": ["attn.q", "attn.v"],
    "vit": ["q_proj", "v_proj"],
    "convnext": ["pwconv1", "pwconv2"],
    "mobilenet_v2": ["expand_1x1.convolution", "reduce_1x1.convolution"],
}


def _has_module(model: nn.Module, suffix: str) -> bool:
    return any(name == suffix or name.endswith("." + suffix) for name, _ in model.named_modules())


def _default_targets(method: str, model: nn.Module) -> list[str] | None:
    """PEFT's default target modules for the architecture when they exist in the model, else ours."""
    table = {
        "ia3": constants.TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING,
        "adalora": constants.TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING,
    }.get(method, constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING)
    model_type = _model_type(model)
    for targets in (table.get(model_type), FALLBACK_TARGETS.get(model_type)):
        if targets and all(_has_module(model, t) for t in targets):
            return list(targets)
    return None


def _adaptable_modules(model: nn.Module, prefix: str) -> list[str]:
    return [
        name
        for name, m in model.named_modules()
        if name.startswith(prefix + ".") and isinstance(m, ADAPTABLE)
    ]


def build_peft_config(config: PeftAdapterConfig, model: nn.Module, num_training_steps: int | None = None):
    """The ``peft`` config object for ``model``: method, targets, layer selection, head in modules_to_save."""
    class_name, method_defaults = PEFT_METHODS[config.method]
    backbone_prefix = model.base_model_prefix
    targets = config.target_modules or _default_targets(config.method, model)
    kwargs: dict[str, Any] = dict(method_defaults)
    layout = find_blocks(model) if (config.top_layers or config.layers) else None

    if config.patterns:
        modules = [
            name
            for name in _adaptable_modules(model, backbone_prefix)
            if any(pattern_matches(p, name) for p in config.patterns)
            and (targets is None or any(name == t or name.endswith("." + t) for t in targets))
        ]
        if not modules:
            near = nearest_names(config.patterns[0], _adaptable_modules(model, backbone_prefix))
            raise StrategyError(
                f"peft: patterns {config.patterns} (with target_modules {targets}) select no adaptable module of "
                f"{type(model).__name__}. Nearest module names: {', '.join(near) or '(none)'}."
            )
        kwargs["target_modules"] = modules
    else:
        if targets is None:
            raise StrategyError(
                f"peft: PEFT has no default target modules for model type {_model_type(model)!r}; set "
                "`target_modules` (module-name suffixes such as [query, value]; `hf-transfer inspect MODEL --depth 8` "
                "lists the modules)."
            )
        adaptable = _adaptable_modules(model, backbone_prefix)
        missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in adaptable)]
        if missing:
            suffixes = sorted({n.rsplit(".", 1)[-1] for n in adaptable})
            raise StrategyError(
                f"peft: target module(s) {missing} not found in {type(model).__name__}. Module-name suffixes there: "
                f"{', '.join(suffixes[:30])}."
            )
        kwargs["target_modules"] = list(targets)
    if layout is not None:
        n = layout.num_blocks
        indices = (
            list(range(n - config.top_layers, n)) if config.top_layers else [i % n for i in config.layers]
        )
        bad = [i for i in (config.layers or []) if not -n <= i < n]
        if (config.top_layers and config.top_layers > n) or bad:
            raise StrategyError(
                f"peft: {type(model).__name__} has {n} blocks ({layout.block_prefix}.0 … {n - 1}); "
                f"got {'top_layers=' + str(config.top_layers) if config.top_layers else 'layers=' + str(bad)}."
            )
        indices = sorted(set(indices))
        if "layers_to_transform" in _fields(class_name):
            kwargs["layers_to_transform"] = indices
            kwargs["layers_pattern"] = layout.block_prefix.rsplit(".", 1)[-1]
        else:  # e.g. IA³: name the modules of the chosen blocks explicitly
            chosen = tuple(f"{layout.block_prefix}.{i}." for i in indices)
            kwargs["target_modules"] = [
                name
                for name in _adaptable_modules(model, backbone_prefix)
                if name.startswith(chosen) and any(name.endswith("." + t) for t in kwargs["target_modules"])
            ]
    if config.method in RANKED:
        kwargs["r"] = config.r
    if config.method in ("lora", "dora", "rslora", "adalora"):
        kwargs.update(lora_alpha=config.alpha, lora_dropout=config.dropout)
    if config.method in ("loha", "lokr"):
        kwargs.update(alpha=config.alpha, module_dropout=config.dropout)
    if config.method == "ia3" and "feedforward_modules" not in config.options:
        default_ff = (
            constants.TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING.get(_model_type(model)) or []
        )
        kwargs["feedforward_modules"] = [
            t for t in kwargs["target_modules"] if any(t == f or t.endswith("." + f) for f in default_ff)
        ]
    if config.method == "adalora":
        if not num_training_steps:
            raise StrategyError(
                "peft: AdaLoRA needs the number of training steps (set by the training pipeline)."
            )
        kwargs.update(adalora_schedule(num_training_steps))  # corrected to the Trainer's count at train begin
    if config.train_head:
        kwargs["modules_to_save"] = head_modules(model)
    if _is_text_classifier(model):
        kwargs["task_type"] = peft.TaskType.SEQ_CLS
    kwargs.update(config.options)
    try:
        return getattr(peft, class_name)(**kwargs)
    except (TypeError, ValueError) as err:
        raise StrategyError(f"peft: invalid {class_name} options {sorted(kwargs)}: {err}") from None


def _fields(class_name: str) -> set[str]:
    return {f.name for f in dataclasses.fields(getattr(peft, class_name))}


def _is_text_classifier(model: nn.Module) -> bool:
    return type(model).__name__.endswith("ForSequenceClassification")


class AdaLoraAllocationCallback(TrainerCallback):
    """Calls AdaLoRA's ``update_and_allocate`` after every optimizer step, as the method requires, on the
    schedule of the Trainer's own step count: when training begins, ``total_step`` (and the ``tinit`` /
    ``tfinal`` derived from it, unless the recipe set them in ``options``) become ``state.max_steps`` — the
    estimate made before the Trainer existed counts source rows only, half the steps of a domain-adaptation
    epoch."""

    def __init__(self, options: dict[str, Any]):
        self.options = options

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not state.max_steps:
            return
        peft_model = _adapted_model(model)
        total = int(self.options.get("total_step", state.max_steps))
        schedule = {
            **adalora_schedule(total),
            **{k: v for k, v in self.options.items() if k in ("tinit", "tfinal")},
        }
        if schedule["tinit"] >= total - schedule["tfinal"]:
            raise StrategyError(
                f"peft: AdaLoRA over {total} steps has no budgeting phase (tinit {schedule['tinit']}, tfinal "
                f"{schedule['tfinal']}): train longer, or set smaller tinit / tfinal in `options`."
            )
        for peft_config in peft_model.peft_config.values():
            for key, value in schedule.items():
                setattr(peft_config, key, value)

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        peft_model = _adapted_model(model)
        peft_model.base_model.update_and_allocate(state.global_step)


def _adapted_model(model):
    """The PEFT model inside what the Trainer holds (a DDP wrapper, a domain-adaptation wrapper)."""
    model = getattr(model, "module", model)
    return model.task_model if hasattr(model, "task_model") else model


def adalora_schedule(total_steps: int) -> dict[str, int]:
    """AdaLoRA's budget schedule for a run of ``total_steps``: warm-up 10 %, final phase 20 %."""
    return {"total_step": total_steps, "tinit": max(1, total_steps // 10), "tfinal": max(1, total_steps // 5)}


@register_strategy("peft", PeftAdapterConfig)
class PeftAdapters(TransferStrategy):
    """PEFT adapters (LoRA, DoRA, rsLoRA, IA³, AdaLoRA…) on chosen blocks; the head trains in full."""

    config: PeftAdapterConfig

    def apply(self, model: nn.Module, context=None) -> nn.Module:
        num_steps = getattr(context, "num_training_steps", None)
        peft_config = build_peft_config(self.config, model, num_training_steps=num_steps)
        return peft.get_peft_model(model, peft_config)

    def callbacks(self) -> list:
        return [AdaLoraAllocationCallback(self.config.options)] if self.config.method == "adalora" else []
