"""Architecture-generic block discovery: the ordered blocks of a backbone, what lies below and above them.

The rule, with no per-model table: inside the backbone (the ``base_model_prefix`` attribute), the blocks are
the ``nn.ModuleList`` whose children all share one class and that holds the most parameters — BERT-like
``encoder.layer``, DistilBERT's ``transformer.layer``, ViT's ``encoder.layer(s)``, ConvNeXt's
``encoder.stages``, MobileNetV2's ``layer``. Parameters registered before the first block are the *bottom*
(embeddings, stems), those after the last block the *top* (poolers, final norms), and everything outside the
backbone the *head*.

Example::

    >>> from hf_transfer.modeling import find_blocks
    >>> layout = find_blocks(model)           # a BertForSequenceClassification with 6 layers
    >>> layout.block_prefix, len(layout.blocks)
    ('bert.encoder.layer', 6)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..errors import StrategyError
from .structure import is_trainable, split_backbone_and_head


@dataclass
class BlockLayout:
    """Parameter names of a model grouped by role, blocks in forward order (bottom first)."""

    block_prefix: str
    blocks: list[list[str]]
    bottom: list[str] = field(default_factory=list)
    top: list[str] = field(default_factory=list)
    head: list[str] = field(default_factory=list)

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def block_name(self, index: int) -> str:
        return f"{self.block_prefix}.{index}"

    def groups(self) -> list[tuple[str, list[str]]]:
        """(name, parameter names) per group, bottom to head: the rows of a dry run."""
        rows = [("bottom (embeddings / stem)", self.bottom)]
        rows += [(self.block_name(i), names) for i, names in enumerate(self.blocks)]
        rows += [("top (pooler / final norm)", self.top), ("head", self.head)]
        return [(name, names) for name, names in rows if names]


def _homogeneous_module_lists(module: nn.Module, prefix: str) -> list[tuple[str, nn.ModuleList]]:
    found = []
    for name, child in module.named_modules(prefix=prefix):
        if isinstance(child, nn.ModuleList) and len(child) > 1 and len({type(c) for c in child}) == 1:
            found.append((name, child))
    return found


def find_blocks(model: nn.Module) -> BlockLayout:
    """Discover the block list of a ``transformers`` task model (see the module docstring for the rule).

    Raises :class:`~hf_transfer.errors.StrategyError` when the model has no such list, asking for patterns.
    """
    backbone, head = split_backbone_and_head(model)
    prefix = model.base_model_prefix
    candidates = _homogeneous_module_lists(backbone, prefix)
    if not candidates:
        raise StrategyError(
            f"Cannot find the block list of {type(model).__name__}: its backbone {prefix!r} has no nn.ModuleList "
            "of same-class blocks. Select parameters explicitly with a `patterns` strategy (include / exclude); "
            "`hf-transfer inspect MODEL` shows the names."
        )

    def size(item: tuple[str, nn.ModuleList]) -> tuple[int, int]:
        return sum(p.numel() for p in item[1].parameters()), len(item[1])

    block_prefix, block_list = max(candidates, key=size)
    index_of = {}
    for index, block in enumerate(block_list):
        for name, _ in block.named_parameters(prefix=f"{block_prefix}.{index}"):
            index_of[name] = index
    layout = BlockLayout(
        block_prefix=block_prefix, blocks=[[] for _ in block_list], head=[n for n, _ in head]
    )
    seen_block = False
    for name, _ in backbone.named_parameters(prefix=prefix):
        if name in index_of:
            layout.blocks[index_of[name]].append(name)
            seen_block = True
        elif seen_block:
            layout.top.append(name)
        else:
            layout.bottom.append(name)
    return layout


PEFT_PREFIX = "base_model.model."


def layout_of(model: nn.Module) -> tuple[BlockLayout, str]:
    """The block layout of a model, or of the base model under a PEFT wrapper, and the wrapper's name prefix."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return find_blocks(base), (PEFT_PREFIX if base is not model else "")


def assign_groups(model: nn.Module) -> dict[str, tuple[int, str]]:
    """Per parameter name: (position, group) with positions bottom → blocks → top → head.

    Works on wrapped models too: adapter weights inside a block count in that block.
    """
    layout, wrapper = layout_of(model)
    n = layout.num_blocks
    roots = {
        "bottom": {name.rsplit(".", 1)[0] for name in layout.bottom},
        "top": {name.rsplit(".", 1)[0] for name in layout.top},
    }
    backbone = layout.block_prefix.split(".")[0]
    groups = {}
    for name, _ in model.named_parameters():
        plain = name.removeprefix(wrapper)
        group = None
        for index in range(n):
            if plain.startswith(f"{layout.block_prefix}.{index}."):
                group = (1 + index, layout.block_name(index))
                break
        if group is None:
            module = plain.rsplit(".", 1)[0]
            if any(module == r or module.startswith(r + ".") for r in roots["bottom"]):
                group = (0, "bottom (embeddings / stem)")
            elif any(module == r or module.startswith(r + ".") for r in roots["top"]):
                group = (n + 1, "top (pooler / final norm)")
            elif plain.startswith(backbone + "."):
                group = (n + 1, "backbone (other)")
            else:
                group = (n + 2, "head")
        groups[name] = group
    return groups


def _group_counts(model: nn.Module, groups: dict[str, tuple[int, str]]) -> dict[tuple[int, str], list[int]]:
    """``{(order, group label): [trainable, total]}`` parameters per group."""
    totals: dict[tuple[int, str], list[int]] = {}
    for name, parameter in model.named_parameters():
        counts = totals.setdefault(groups[name], [0, 0])
        counts[0] += parameter.numel() if is_trainable(parameter) else 0
        counts[1] += parameter.numel()
    return dict(sorted(totals.items()))


def format_trainable_table(model: nn.Module) -> str:
    """What trains, per group (embeddings, each block, top, head): trainable / total parameters."""
    totals = _group_counts(model, assign_groups(model))
    width = max(len(label) for _, label in totals) + 2
    lines = [f"{'group':<{width}}{'trainable':>12}{'total':>12}{'share':>9}"]
    trainable_sum = total_sum = 0
    for (_, label), (trainable, total) in totals.items():
        trainable_sum, total_sum = trainable_sum + trainable, total_sum + total
        mark = "train" if trainable == total else ("part" if trainable else "frozen")
        lines.append(f"{label:<{width}}{trainable:>12,}{total:>12,}{100 * trainable / total:>8.1f}%  {mark}")
    lines.append(
        f"total: {trainable_sum:,} of {total_sum:,} parameters train ({100 * trainable_sum / max(total_sum, 1):.2f}%)"
    )
    return "\n".join(lines)


def trainable_groups(model: nn.Module) -> list[dict[str, Any]] | None:
    """What trained, per part of the model (embeddings / stem, each block, top, head): trainable and total
    parameters; None when the model has no recognisable block list."""
    try:
        groups = assign_groups(model)
    except Exception:  # no block list to report on: the card shows the totals only
        return None
    return [
        {"group": label, "trainable": trainable, "total": total}
        for (_, label), (trainable, total) in _group_counts(model, groups).items()
    ]
