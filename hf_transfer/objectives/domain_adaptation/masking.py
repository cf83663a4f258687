"""UDALM's data side: target rows masked for masked-LM in every mixed batch, and the head's starting weights."""

from __future__ import annotations

import logging

import torch
from transformers import DataCollatorForLanguageModeling

from ...modeling.masked_lm import load_masked_lm
from ...wrappers.target_losses import IGNORED

logger = logging.getLogger(__name__)


class TargetMaskingCollator:
    """Pads with the run's collator, then masks the target rows (``domains`` 1) as
    :class:`~transformers.DataCollatorForLanguageModeling` does (``probability`` of the non-special tokens: 80 %
    ``[MASK]``, 10 % a random token, 10 % kept) and adds their ``mlm_targets`` (−100 elsewhere and on every source
    row). Batches without ``domains`` (evaluation) pass through unchanged."""

    def __init__(self, collator, tokenizer, probability: float = 0.15):
        self.collator = collator
        self.masker = DataCollatorForLanguageModeling(tokenizer, mlm_probability=probability)

    def __call__(self, features):
        batch = self.collator(features)
        if "domains" not in batch:
            return batch
        target = batch["domains"] == 1
        input_ids = batch["input_ids"].clone()
        mlm_targets = torch.full_like(input_ids, IGNORED)
        if target.any():
            masked, labels = self.masker.torch_mask_tokens(input_ids[target].clone())
            input_ids[target], mlm_targets[target] = masked, labels
        return {**batch, "input_ids": input_ids, "mlm_targets": mlm_targets}


def load_masked_lm_head(wrapped, checkpoint, model_args) -> str:
    """Start the wrapper's masked-LM head from the checkpoint's own when it ships one (``"pretrained"``), else
    keep the fresh one (``"fresh"``, logged: all-MiniLM-L6-v2, for one, ships no masked-LM head)."""
    try:
        model, missing = load_masked_lm(checkpoint, model_args)
    except (OSError, ValueError, KeyError):  # an architecture without a masked-LM class
        model, missing = None, []
    if model is not None and not missing:
        prefix = f"{model.base_model_prefix}."
        head = {k: v for k, v in model.state_dict().items() if not k.startswith(prefix)}
        if wrapped.mlm_head.load_pretrained(head):
            logger.info("udalm: the masked-LM head starts from the checkpoint's.")
            return "pretrained"
    logger.info(
        "udalm: the checkpoint ships no masked-LM head; a fresh one is trained (its decoder is the encoder's "
        "input embeddings)."
    )
    return "fresh"
