"""A checkpoint as a masked-LM model, and whether it shipped the masked-LM head (TAPT's stage, UDALM's head)."""

from __future__ import annotations

from transformers import AutoModelForMaskedLM


def load_masked_lm(checkpoint, model_args):
    """``AutoModelForMaskedLM`` on the checkpoint, and the head tensors it lacked (fresh ones; e.g. all of them
    for all-MiniLM-L6-v2, a sentence-embedding checkpoint)."""
    model, info = AutoModelForMaskedLM.from_pretrained(
        checkpoint.path,
        revision=model_args.revision,
        trust_remote_code=model_args.trust_remote_code,
        output_loading_info=True,
    )
    prefix = f"{model.base_model_prefix}."
    return model, [k for k in info.get("missing_keys", ()) if not k.startswith(prefix)]
