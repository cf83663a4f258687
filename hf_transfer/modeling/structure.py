"""Architecture-generic views of a model: backbone vs task head, parameter counts, the module tree."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import StrategyError


def split_backbone_and_head(model: nn.Module) -> tuple[nn.Module, list[tuple[str, nn.Parameter]]]:
    """The pretrained backbone and the named parameters of everything else (the task head).

    The rule is generic: a ``transformers`` task model keeps its pretrained backbone in the attribute named by
    ``base_model_prefix`` (``bert``, ``roberta``, ``distilbert``, ``vit``…); every parameter outside it belongs to
    the head (``classifier``, ``pre_classifier``…).
    """
    prefix = getattr(model, "base_model_prefix", "")
    backbone = getattr(model, prefix, None) if prefix else None
    if not isinstance(backbone, nn.Module) or backbone is model:
        raise StrategyError(
            f"Cannot tell the backbone from the head of {type(model).__name__}: it has no backbone attribute "
            f"named by `base_model_prefix` ({prefix!r}). Load the checkpoint with a task class "
            "(AutoModelForSequenceClassification / AutoModelForImageClassification) or choose parameters by pattern."
        )
    head = [(name, p) for name, p in model.named_parameters() if not name.startswith(prefix + ".")]
    if not head:
        raise StrategyError(
            f"{type(model).__name__} has no parameters outside its backbone {prefix!r}: no head."
        )
    return backbone, head


_HELD = "_hf_transfer_held"


def is_trainable(parameter: nn.Parameter) -> bool:
    """Whether a parameter trains now: it requires grad and is not :func:`hold`-ed for later."""
    return parameter.requires_grad and not getattr(parameter, _HELD, False)


def _zero_while_held(parameter: nn.Parameter):
    def hook(grad):
        return torch.zeros_like(grad) if getattr(parameter, _HELD, False) else grad

    return hook


def hold(parameter: nn.Parameter) -> None:
    """Register a parameter that trains later (gradual unfreezing) with the autograd graph now, its updates held
    at zero until :func:`release`: DDP all-reduces only parameters that required grad when it wrapped the model,
    so a block frozen then would later train on each rank's own gradients. While held, its gradient is zero
    (so it adds nothing to the clipped norm, and DDP averages zeros); :func:`drop_held_gradients` then clears it
    before the optimizer step, so the optimizer skips it entirely (no state, no weight decay), exactly as for a
    frozen parameter."""
    parameter.requires_grad_(True)
    if not hasattr(parameter, _HELD):
        parameter.register_hook(_zero_while_held(parameter))
    setattr(parameter, _HELD, True)


def release(parameter: nn.Parameter) -> None:
    """A held (or frozen) parameter trains from now on."""
    parameter.requires_grad_(True)
    if hasattr(parameter, _HELD):
        setattr(parameter, _HELD, False)


def drop_held_gradients(parameters) -> None:
    """Clear the (zero) gradients of held parameters, so that the optimizer step leaves them untouched."""
    for parameter in parameters:
        if getattr(parameter, _HELD, False):
            parameter.grad = None


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts (held parameters count as frozen until released)."""
    trainable = total = 0
    for parameter in model.parameters():
        total += parameter.numel()
        if is_trainable(parameter):
            trainable += parameter.numel()
    return trainable, total


@dataclass
class ModuleRow:
    name: str
    class_name: str
    depth: int
    parameters: int
    trainable: int


def module_rows(model: nn.Module, max_depth: int = 4) -> list[ModuleRow]:
    """One row per module down to ``max_depth`` dots, with the parameters it holds (recursively)."""
    rows = []
    for name, module in model.named_modules():
        depth = 0 if not name else name.count(".") + 1
        if depth > max_depth:
            continue
        total = trainable = 0
        for parameter in module.parameters():
            total += parameter.numel()
            trainable += parameter.numel() if is_trainable(parameter) else 0
        if total or depth == 0:
            rows.append(ModuleRow(name or "(model)", type(module).__name__, depth, total, trainable))
    return rows


def format_module_tree(model: nn.Module, max_depth: int = 4) -> str:
    """The module tree as an indented table: name, class, parameters, trainable share.

    The names are the prefixes of parameter names, i.e. what layer patterns match against.
    """
    rows = module_rows(model, max_depth)
    width = max(len("  " * r.depth + r.name) for r in rows) + 2
    lines = [f"{'module':<{width}}{'class':<34}{'params':>12}  {'trainable':>9}"]
    for r in rows:
        share = f"{100 * r.trainable / r.parameters:.1f}%" if r.parameters else "-"
        label = "  " * r.depth + r.name
        lines.append(f"{label:<{width}}{r.class_name[:33]:<34}{r.parameters:>12,}  {share:>9}")
    trainable, total = count_parameters(model)
    lines.append(
        f"total: {total:,} parameters, {trainable:,} trainable ({100 * trainable / max(total, 1):.2f}%)"
    )
    return "\n".join(lines)
