"""Selective fine-tuning over architectures: exactly the selected parameters change, the rest stay identical."""

from __future__ import annotations

import pytest
import torch
from conftest import ARCHITECTURES, LAYOUTS, TEXT_ARCHITECTURES, tiny_batch, tiny_model
from torch import nn

from hf_transfer.errors import StrategyError
from hf_transfer.modeling import find_blocks, format_trainable_table
from hf_transfer.strategies import StrategyContext, build_strategy
from hf_transfer.strategies.schedules import block_depths, parameter_groups


def block(arch: str, index: int) -> str:
    layout = LAYOUTS[arch]
    return layout["blocks"].format(index % layout["n"])


def startswith(name: str, prefixes) -> bool:
    return name.startswith(tuple(prefixes))


# strategy spec -> predicate (arch, parameter name) -> should train
STRATEGY_TABLE = {
    "full": ({"type": "full"}, lambda arch, name: True),
    "feature_extraction": ({"type": "feature_extraction"}, lambda a, n: startswith(n, LAYOUTS[a]["head"])),
    "top_layers": (
        {"type": "top_layers", "num_layers": 1},
        lambda a, n: startswith(n, (block(a, -1), *LAYOUTS[a]["top"], *LAYOUTS[a]["head"])),
    ),
    "top_layers+embeddings": (
        {"type": "top_layers", "num_layers": 1, "train_embeddings": True, "train_top": False},
        lambda a, n: startswith(n, (block(a, -1), *LAYOUTS[a]["bottom"], *LAYOUTS[a]["head"])),
    ),
    "patterns-noncontiguous": (  # the first and the last block, without their norms, plus the head
        {"type": "patterns", "include": ["*.{first}", "*.{last}*"], "exclude": ["(?i).*norm.*"]},
        lambda a, n: (
            startswith(n, (block(a, 0), block(a, -1)))
            and "norm" not in n.lower()
            or startswith(n, LAYOUTS[a]["head"])
        ),
    ),
}


def resolve_spec(spec: dict, arch: str) -> dict:
    first, last = block(arch, 0).rstrip("."), block(arch, -1).rstrip(".")
    resolved = dict(spec)
    for key in ("include", "exclude"):
        if key in spec:
            resolved[key] = [p.replace("*.{first}", first).replace("*.{last}", last) for p in spec[key]]
    return resolved


def train_steps(model: nn.Module, arch: str, steps: int = 3) -> None:
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.01
    )
    model.train()
    for step in range(steps):
        optimizer.zero_grad()
        model(**tiny_batch(arch, seed=step)).loss.backward()
        optimizer.step()


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("strategy_name", list(STRATEGY_TABLE))
def test_exactly_the_selected_parameters_change(arch, strategy_name):
    spec, should_train = STRATEGY_TABLE[strategy_name]
    model = tiny_model(arch)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model = build_strategy(resolve_spec(spec, arch)).apply(model)
    expected = {n for n in before if should_train(arch, n)}
    assert {n for n, p in model.named_parameters() if p.requires_grad} == expected
    train_steps(model, arch)
    for name, parameter in model.named_parameters():
        if name in expected:
            assert not torch.equal(before[name], parameter), f"{name} should have trained"
        else:
            assert torch.equal(before[name], parameter), f"{name} should be frozen"


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_peft_adapters_only_on_the_selected_blocks(arch):
    model = tiny_model(arch)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    targets = {"vit": ["q_proj", "v_proj"], "convnext": ["pwconv1"]}.get(arch)
    spec = {"type": "peft", "method": "lora", "r": 4, "top_layers": 1, "target_modules": targets}
    model = build_strategy(spec).apply(model)
    adapters = [n for n, _ in model.named_parameters() if "lora_" in n]
    assert adapters and all(block(arch, -1) in n for n in adapters)
    train_steps(model, arch)
    for name, parameter in model.named_parameters():
        plain = name.removeprefix("base_model.model.")
        if "lora_B" in name or "modules_to_save" in name:
            original = plain.replace(".modules_to_save.default", "")
            assert not torch.equal(before.get(original, torch.zeros_like(parameter)), parameter), name
        elif "lora_" not in name:
            key = plain.replace(".base_layer", "").replace(".original_module", "")
            assert torch.equal(before[key], parameter), f"{name} should be frozen"


@pytest.mark.parametrize("method", ["lora", "dora", "rslora", "ia3", "adalora", "loha", "lokr"])
def test_every_peft_method_builds_on_a_text_model(method):
    model = tiny_model("bert")
    context = StrategyContext(num_training_steps=10)
    wrapped = build_strategy({"type": "peft", "method": method, "layers": [-1]}).apply(model, context)
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert any("modules_to_save" in n for n in trainable)
    assert all("layer.2." in n or "classifier" in n for n in trainable)


def test_peft_patterns_become_explicit_target_modules():
    from hf_transfer.strategies import build_peft_config

    config = build_peft_config(
        build_strategy({"type": "peft", "patterns": ["*.layer.0.*"], "target_modules": ["query"]}).config,
        tiny_model("bert"),
    )
    assert sorted(config.target_modules) == ["bert.encoder.layer.0.attention.self.query"]
    assert config.modules_to_save == ["classifier"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"type": "patterns", "include": ["bert.encoder.layers.*"]},
            r"matches no parameter.*Nearest names: .*bert.encoder.layer",
        ),
        ({"type": "patterns", "exclude": ["*.nothing"]}, "exclude pattern"),
        ({"type": "top_layers", "num_layers": 5}, r"num_layers=5 but .* has 3 blocks"),
        ({"type": "peft", "layers": [7]}, r"has 3 blocks"),
        ({"type": "peft", "target_modules": ["qkv"]}, r"target module\(s\) \['qkv'\] not found.*query"),
        ({"type": "peft", "patterns": ["*.nowhere.*"]}, "select no adaptable module"),
        ({"type": "auto_select", "num_layers": 4}, "has 3 blocks"),
    ],
)
def test_bad_selectors_raise_clear_errors(spec, message):
    context = StrategyContext(train_dataset=[], data_collator=lambda rows: {}, num_training_steps=4)
    with pytest.raises(StrategyError, match=message):
        build_strategy(spec).apply(tiny_model("bert"), context)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "peft", "method": "prefix"}, "unknown method"),
        ({"type": "peft", "top_layers": 1, "layers": [0]}, "choose one block selector"),
        ({"type": "patterns"}, "give `include` and/or `exclude`"),
        ({"type": "top_layers", "num_layers": -1}, "must be ≥ 0"),
        ({"type": "auto_select", "score": "magic"}, "unknown score"),
        ({"type": "gradual_unfreezing", "every_steps": 0}, "must be ≥ 1"),
    ],
)
def test_bad_strategy_options_raise_clear_errors(spec, message):
    with pytest.raises(StrategyError, match=message):
        build_strategy(spec)


class NoBlocks(nn.Module):
    base_model_prefix = "encoder"

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
        self.classifier = nn.Linear(4, 2)


def test_a_model_without_a_block_list_asks_for_patterns():
    with pytest.raises(StrategyError, match="Cannot find the block list.*`patterns` strategy"):
        find_blocks(NoBlocks())
    model = build_strategy({"type": "patterns", "include": ["encoder.1"]}).apply(NoBlocks())
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        "encoder.1.weight",
        "encoder.1.bias",
        "classifier.weight",
        "classifier.bias",
    }


@pytest.mark.parametrize("arch", ["bert", "distilbert", "vit", "convnext"])
def test_layerwise_lr_decay_gives_one_group_per_block(arch):
    model = tiny_model(arch)
    names = {n for n, _ in model.named_parameters()}
    groups = parameter_groups(
        model, names, learning_rate=1.0, weight_decay=0.1, decay_names=set(), layerwise_lr_decay=0.5
    )
    n = LAYOUTS[arch]["n"]
    assert sorted({g["lr"] for g in groups}, reverse=True) == [0.5**d for d in range(n + 2)]
    depths = block_depths(model)
    for name in names:
        if startswith(name, LAYOUTS[arch]["head"]) or startswith(name, LAYOUTS[arch]["top"]):
            assert depths[name] == 0
        elif startswith(name, LAYOUTS[arch]["bottom"]):
            assert depths[name] == n + 1
        else:
            index = next(i for i in range(n) if name.startswith(block(arch, i)))
            assert depths[name] == n - index
    assert sum(len(g["params"]) for g in groups) == len(names)


def test_dry_run_table_marks_what_trains():
    model = build_strategy({"type": "top_layers", "num_layers": 1}).apply(tiny_model("bert"))
    table = format_trainable_table(model)
    rows = {line.split()[0]: line for line in table.splitlines()[1:-1]}
    assert rows["bert.encoder.layer.1"].endswith("frozen") and rows["bert.encoder.layer.2"].endswith("train")
    assert rows["head"].endswith("train") and rows["bottom"].endswith("frozen")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert table.splitlines()[-1].startswith(f"total: {trainable:,} of")


def test_feature_extraction_cache_requires_a_pooled_head():
    with pytest.raises(StrategyError, match="cache_features needs a pooled head"):
        build_strategy({"type": "feature_extraction", "cache_features": True}).apply(tiny_model("bert"))


@pytest.mark.parametrize("arch", TEXT_ARCHITECTURES)
def test_auto_select_scores_every_block_and_trains_the_best(arch):
    model = tiny_model(arch)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    rows = [{k: v[i] for k, v in tiny_batch(arch, size=8).items()} for i in range(8)]
    context = StrategyContext(train_dataset=rows, data_collator=torch.utils.data.default_collate, seed=0)
    strategy = build_strategy({"type": "auto_select", "num_layers": 1, "num_batches": 2, "batch_size": 4})
    model = strategy.apply(model, context)
    scores = strategy.report()["scores"]
    assert len(scores) == 3 and all(s > 0 for s in scores.values())
    best = max(scores, key=scores.get)
    assert strategy.report()["selected_blocks"] == [best]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if not startswith(n, LAYOUTS[arch]["head"] + LAYOUTS[arch]["top"])} == {
        n for n in before if n.startswith(best + ".")
    }
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())


def test_gradient_norm_score_is_the_rms_gradient_of_each_block():
    model = tiny_model("bert")
    batch = tiny_batch("bert", size=4)
    rows = [{k: v[i] for k, v in batch.items()} for i in range(4)]
    context = StrategyContext(train_dataset=rows, data_collator=torch.utils.data.default_collate, seed=0)
    strategy = build_strategy({"type": "auto_select", "num_layers": 1, "num_batches": 1, "batch_size": 4})
    strategy.apply(model, context)
    reference = tiny_model("bert").eval()  # the same weights (seeded), scored by hand
    reference(**batch).loss.backward()
    for index, layer in enumerate(reference.bert.encoder.layer):
        grads = [p.grad for p in layer.parameters()]
        rms = (sum(float(g.pow(2).sum()) for g in grads) / sum(g.numel() for g in grads)) ** 0.5
        assert strategy.report()["scores"][f"bert.encoder.layer.{index}"] == pytest.approx(rms, rel=1e-4)
    fisher = build_strategy(
        {"type": "auto_select", "num_layers": 1, "score": "fisher", "num_batches": 1, "batch_size": 4}
    )
    fisher.apply(tiny_model("bert"), context)
    assert fisher.report()["scores"].keys() == strategy.report()["scores"].keys()


@pytest.mark.parametrize(
    ("arch", "block_prefix", "count", "top"),
    [
        ("deberta-v2", "deberta.encoder.layer", 2, []),
        ("electra", "electra.encoder.layer", 2, []),
        ("mobilenet_v2", "mobilenet_v2.layer", 16, ["mobilenet_v2.conv_1x1"]),
    ],
)
def test_block_discovery_on_more_architectures(arch, block_prefix, count, top):
    from transformers import (
        AutoModelForImageClassification,
        AutoModelForSequenceClassification,
        DebertaV2Config,
        ElectraConfig,
        MobileNetV2Config,
    )

    text = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 37,
        "vocab_size": 100,
    }
    if arch == "deberta-v2":
        model = AutoModelForSequenceClassification.from_config(DebertaV2Config(**text))
    elif arch == "electra":
        model = AutoModelForSequenceClassification.from_config(ElectraConfig(embedding_size=16, **text))
    else:
        model = AutoModelForImageClassification.from_config(
            MobileNetV2Config(image_size=32, depth_multiplier=0.35)
        )
    layout = find_blocks(model)
    assert layout.block_prefix == block_prefix and layout.num_blocks == count
    assert all(
        name.startswith(f"{block_prefix}.{i}.") for i, names in enumerate(layout.blocks) for name in names
    )
    assert all(any(name.startswith(t + ".") for t in top) for name in layout.top)
    assert layout.head and all(name.startswith(("classifier.", "pooler.")) for name in layout.head)
    n_params = sum(1 for _ in model.named_parameters())
    assert len(layout.bottom) + sum(map(len, layout.blocks)) + len(layout.top) + len(layout.head) == n_params
