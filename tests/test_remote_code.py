"""Exports that load without hf_transfer: a pooled classifier carries its modelling code (``auto_map``), and stock
transformers loads it with ``trust_remote_code=True`` in a process where hf_transfer cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from conftest import tiny_backbone

from hf_transfer.modeling import PooledClassifier

BLOCKED = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "hf_transfer" or name.startswith("hf_transfer."):
            raise ImportError("hf_transfer is blocked in this process")
sys.meta_path.insert(0, Block())
"""


def test_a_pooled_classifier_loads_with_stock_transformers_where_hf_transfer_cannot_be_imported(tmp_path):
    torch.manual_seed(0)
    model = PooledClassifier.from_backbone(tiny_backbone("bert"), "mean", {0: "neg", 1: "pos"}).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "pooled_model.py").is_file()
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModelForSequenceClassification"] == "pooled_model.PooledClassifier"
    ids = [[2, 7, 9, 11, 3]]
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(ids)).logits.tolist()
    code = BLOCKED + f"""
import json, torch
from transformers import AutoModelForSequenceClassification
try:
    import hf_transfer
    raise SystemExit("hf_transfer was importable")
except ImportError:
    pass
model = AutoModelForSequenceClassification.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
with torch.no_grad():
    print(json.dumps(model(input_ids=torch.tensor({ids})).logits.tolist()))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    torch.testing.assert_close(torch.tensor(json.loads(result.stdout.strip().splitlines()[-1])), torch.tensor(expected))
