"""Exports that load without hf_transfer: a pooled classifier carries its modelling code (``auto_map``), and stock
transformers loads it with ``trust_remote_code=True`` in a process where hf_transfer cannot be imported — a full
pooled model (text and image) and an adapter on a pooled head alike, through ``from_pretrained`` and
``pipeline``. Exported files never name a machine path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import tiny_backbone

from hf_transfer import predict, train
from hf_transfer.modeling import PooledClassifier
from hf_transfer.modeling import backbones as backbone_resolution

BLOCKED = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "hf_transfer" or name.startswith("hf_transfer."):
            raise ImportError("hf_transfer is blocked in this process")
sys.meta_path.insert(0, Block())
try:
    import hf_transfer
    raise SystemExit("hf_transfer was importable")
except ImportError:
    pass
import json, torch
"""


def run_without_hf_transfer(code: str):
    """Run ``code`` in a fresh interpreter where ``import hf_transfer`` fails; what it passes to ``result``."""
    code = BLOCKED + "def result(value):\n    print('RESULT ' + json.dumps(value))\n" + code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.mark.parametrize("arch", ["bert", "convnext"])
def test_a_pooled_classifier_loads_with_stock_transformers_where_hf_transfer_cannot_be_imported(arch, tmp_path):
    torch.manual_seed(0)
    model = PooledClassifier.from_backbone(tiny_backbone(arch), "mean", {0: "neg", 1: "pos"}).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "pooled_model.py").is_file()
    auto_class = "AutoModelForSequenceClassification" if arch == "bert" else "AutoModelForImageClassification"
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"][auto_class] == "pooled_model.PooledClassifier"
    inputs = {"input_ids": [[2, 7, 9, 11, 3]]} if arch == "bert" else {"pixel_values": torch.randn(1, 3, 32, 32).tolist()}
    with torch.no_grad():
        expected = model(**{k: torch.tensor(v) for k, v in inputs.items()}).logits
    logits = run_without_hf_transfer(f"""
import transformers
model = transformers.{auto_class}.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
inputs = {{k: torch.tensor(v) for k, v in json.loads({json.dumps(json.dumps(inputs))}).items()}}
with torch.no_grad():
    result(model(**inputs).logits.tolist())
""")
    torch.testing.assert_close(torch.tensor(logits), expected)


def test_a_lora_adapter_on_a_pooled_head_loads_and_serves_a_pipeline_without_hf_transfer(tiny_recipe):
    """The folder holds the adapter, its head and the pooled config (no base weights): stock ``from_pretrained``
    fetches the backbone by ``backbone_name_or_path`` and loads the adapter; the pipeline labels as hf_transfer."""
    recipe = tiny_recipe(
        pooling="mean", strategy={"type": "peft", "method": "lora", "r": 4, "target_modules": ["query", "value"]}
    )
    train(recipe)
    out = Path(recipe["output_dir"])
    assert (out / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
    texts = ["a gripping, funny film", "dull, long and flat"]
    expected = predict(out, texts)
    got = run_without_hf_transfer(f"""
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
folder, texts = {str(out)!r}, {texts!r}
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
tokens = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)(texts, padding=True, return_tensors="pt")
with torch.no_grad():
    probabilities = model(**tokens).logits.softmax(-1).tolist()
served = pipeline("text-classification", model=folder, trust_remote_code=True)(texts)
result({{"probabilities": probabilities, "served": served, "labels": model.config.id2label}})
""")
    labels = {int(i): name for i, name in got["labels"].items()}
    for row, probabilities, served in zip(expected, got["probabilities"], got["served"], strict=True):
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        assert labels[best] == row["label"] == served["label"]
        assert probabilities[best] == pytest.approx(row["score"], abs=1e-5)
        assert served["score"] == pytest.approx(row["score"], abs=1e-5)


MULTITASK = {
    "dataset_config_name": "multitask",
    "multitask": {
        "tasks": [
            {"name": "sentiment", "label_column": "sentiment"},
            {"name": "subjectivity", "label_column": "subjectivity"},
        ]
    },
    "max_train_samples": 96,
    "max_eval_samples": 48,
    "max_test_samples": 48,
    "max_steps": 4,
}


@pytest.mark.parametrize(
    "technique",
    [
        {"strategy": "full"},
        {"strategy": "feature_extraction", "pooling": "mean"},
        {"pooling": "mean", "strategy": {"type": "peft", "target_modules": ["query", "value"], "merge": True}},
        {**MULTITASK, "strategy": {"type": "peft", "target_modules": ["query", "value"]}},
    ],
    ids=["stock", "pooled", "pooled-lora-merged", "multitask-lora"],
)
def test_exported_files_name_the_hub_id_never_where_the_checkpoint_lies(technique, tiny_recipe, tiny_checkpoints, monkeypatch):
    """A Hub id resolved to a local folder (as the offline packages are): no exported text file holds that folder's
    path, and the configs and adapter config name the id."""
    hub_id = "tiny-org/tiny-bert"
    folder = tiny_checkpoints["bert"]
    fake = SimpleNamespace(package="tiny_bert_package", requirement="tiny-bert==0", extra="offline", path=lambda: folder)
    monkeypatch.setitem(backbone_resolution.OFFLINE_CHECKPOINTS, hub_id, fake)
    recipe = tiny_recipe(model_name_or_path=hub_id, **technique)
    train(recipe)
    out = Path(recipe["output_dir"])
    leaks = []
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".md", ".yaml", ".py", ".txt", ""}:
            text = path.read_text(errors="replace")
            if str(folder) in text or "site-packages" in text:
                leaks.append(str(path.relative_to(out)))
    assert not leaks, f"machine paths in {leaks}"
    config = json.loads((out / "config.json").read_text())
    if "backbone" in config:
        assert config["backbone_name_or_path"] == hub_id and "_name_or_path" not in config["backbone"]
    if (out / "adapter_config.json").is_file():
        assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == hub_id


@pytest.mark.parametrize(
    "strategy", ["full", {"type": "peft", "target_modules": ["query", "value"]}], ids=["full", "lora"]
)
def test_a_multitask_export_loads_with_stock_automodel_where_hf_transfer_cannot_be_imported(strategy, tiny_recipe):
    """``AutoModel.from_pretrained(folder, trust_remote_code=True)`` gives every task's logits as hf_transfer does,
    for a whole multi-task model and for an adapter on one (the folder then holds no base weights)."""
    recipe = tiny_recipe(**MULTITASK, strategy=strategy)
    run = train(recipe)
    out = Path(recipe["output_dir"])
    assert {"multitask_model.py", "pooled_model.py"} <= {p.name for p in out.iterdir()}
    assert (out / "adapter_config.json").is_file() == (strategy != "full")
    texts = ["a gorgeous film", "a man returns home"]
    inputs = run.trainer.processing_class(texts, padding=True, return_tensors="pt")
    model = run.trainer.model.eval()
    with torch.no_grad():
        expected = model(**{k: v for k, v in inputs.items() if k != "token_type_ids"}).logits
    got = run_without_hf_transfer(f"""
from transformers import AutoModel, AutoTokenizer
folder = {str(out)!r}
model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
tokens = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)({texts!r}, padding=True, return_tensors="pt")
tokens.pop("token_type_ids", None)
with torch.no_grad():
    logits = model(**tokens).logits
result({{"logits": logits.tolist(), "tasks": list(model.split_logits(logits))}})
""")
    assert got["tasks"] == ["sentiment", "subjectivity"]
    torch.testing.assert_close(torch.tensor(got["logits"]), expected)


def test_a_lora_adapter_on_a_pooled_image_head_loads_without_hf_transfer(tiny_image_recipe):
    recipe = tiny_image_recipe("vit", pooling="mean", strategy={"type": "peft"}, max_steps=2)
    run = train(recipe)
    out = Path(recipe["output_dir"])
    assert (out / "adapter_config.json").is_file() and (out / "pooled_model.py").is_file()
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = run.trainer.model.eval()(pixel_values=pixels).logits
    logits = run_without_hf_transfer(f"""
from transformers import AutoModelForImageClassification
model = AutoModelForImageClassification.from_pretrained({str(out)!r}, trust_remote_code=True).eval()
with torch.no_grad():
    result(model(pixel_values=torch.tensor({pixels.tolist()})).logits.tolist())
""")
    torch.testing.assert_close(torch.tensor(logits), expected)
