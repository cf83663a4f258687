"""``transformers.pipeline`` serves every single-task export where hf_transfer cannot be imported, with the
trained label names and hf_transfer's scores: stock, adapter (on the checkpoint's head or a pooled one), merged
and domain-adapted. A stock PEFT folder holds the labelled config.json but no base weights, so the pipeline takes
the model PEFT loads (``model=AutoPeftModelForSequenceClassification.from_pretrained(...)``), as its card shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DANN_DOMAINS
from test_remote_code import run_without_hf_transfer

from hf_transfer import predict, train

TEXTS = ["a gripping, funny film", "dull, long and flat"]


@pytest.mark.parametrize(
    ("overrides", "folder"),
    [
        ({}, ""),
        ({"strategy": {"type": "peft", "merge": True}}, ""),
        ({"strategy": {"type": "peft", "merge": True}}, "merged"),
        ({"pooling": "mean", "strategy": {"type": "peft"}}, ""),
        (DANN_DOMAINS, ""),
    ],
    ids=["stock", "adapter", "merged", "pooled-adapter", "dann"],
)
def test_pipeline_serves_the_export_with_its_labels(overrides, folder, tiny_recipe):
    recipe = tiny_recipe(**overrides, max_steps=2)
    train(recipe)
    out = Path(recipe["output_dir"])
    expected = predict(out, TEXTS)
    if overrides.get("strategy", {}).get("type") == "peft" and "pooling" not in overrides and not folder:
        model = f"""AutoPeftModelForSequenceClassification.from_pretrained(
    {str(out)!r}, id2label=AutoConfig.from_pretrained({str(out)!r}).id2label), tokenizer={str(out)!r}"""
    else:
        model = f"{str(out / folder)!r}, trust_remote_code=True"
    served = run_without_hf_transfer(f"""
from peft import AutoPeftModelForSequenceClassification
from transformers import AutoConfig, pipeline
classify = pipeline("text-classification", model={model})
result(classify({TEXTS!r}))
""")
    for row, got in zip(expected, served, strict=True):
        assert got["label"] == row["label"] in ("negative", "positive")
        assert got["score"] == pytest.approx(row["score"], abs=1e-4)
