"""Selective strategies through the whole pipeline: adapters that reload with stock peft, pooled heads,
feature caching, gradual unfreezing and layer-wise LR decay under the Trainer, and the dry run."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from conftest import assert_same_logits
from peft import AutoPeftModelForSequenceClassification
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hf_transfer
from hf_transfer import train
from hf_transfer.cli.main import main
from hf_transfer.errors import DataError
from hf_transfer.modeling import PooledClassifier, sentence_transformers_pooling
from hf_transfer.modeling.structure import is_trainable
from hf_transfer.strategies import StrategyContext
from hf_transfer.training import prepare

TEXTS = ["a fine film", "dull and long", "the best thing this year"]


def logits_of(model, tokenizer) -> torch.Tensor:
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    inputs.pop("token_type_ids", None)
    with torch.no_grad():
        return model.eval()(**inputs).logits


def test_lora_adapter_reloads_with_stock_peft_head_included(tiny_recipe):
    strategy = {"type": "peft", "method": "lora", "r": 4, "top_layers": 2, "merge": True}
    result = train(tiny_recipe("bert", strategy=strategy, max_steps=4, learning_rate=5e-2))
    out = result.output_dir
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert "classifier" in adapter_config["modules_to_save"]
    assert adapter_config["layers_to_transform"] == [1, 2] and adapter_config["layers_pattern"] == "layer"
    tokenizer = AutoTokenizer.from_pretrained(out)
    trained = logits_of(result.trainer.model, tokenizer)
    stock = AutoPeftModelForSequenceClassification.from_pretrained(out)  # peft alone, no hf_transfer code
    assert_same_logits(logits_of(stock, tokenizer), trained)
    base_head = AutoModelForSequenceClassification.from_pretrained(adapter_config["base_model_name_or_path"])
    assert not torch.equal(
        logits_of(base_head, tokenizer), trained
    )  # the trained head came back, not the base's
    merged = AutoModelForSequenceClassification.from_pretrained(out / "merged")
    torch.testing.assert_close(logits_of(merged, tokenizer), trained, rtol=1e-4, atol=1e-5)
    assert hf_transfer.predict(out, TEXTS)[0]["label"] in ("negative", "positive")
    assert hf_transfer.evaluate(out)["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])


def test_three_label_adapter_reloads_through_hf_transfer(tiny_recipe):
    recipe = tiny_recipe(
        "distilbert",
        dataset_name="sentiment_domains",
        dataset_config_name="all",
        label_column="domain",
        strategy={"type": "peft", "layers": [0, 2]},
        max_steps=2,
        ignore_mismatched_sizes=True,
    )
    result = train(recipe)
    assert result.metrics["labels"] == ["amazon", "movies", "nyt", "tweets"]
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    reloaded = hf_transfer.wrappers.load_trained_classifier(result.output_dir)
    assert_same_logits(logits_of(reloaded, tokenizer), logits_of(result.trainer.model, tokenizer))


@pytest.mark.parametrize("pooling", ["cls", "mean", "max", "pooler"])
def test_pooled_head_saves_and_reloads_through_the_auto_class(tiny_recipe, pooling):
    result = train(tiny_recipe("bert", pooling=pooling, strategy="top_layers", max_steps=2))
    model = result.trainer.model
    assert isinstance(model, PooledClassifier) and model.config.pooling == pooling
    reloaded = AutoModelForSequenceClassification.from_pretrained(result.output_dir)
    assert type(reloaded) is PooledClassifier
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    assert_same_logits(logits_of(reloaded, tokenizer), logits_of(model, tokenizer))


def test_auto_pooling_reads_the_sentence_transformers_config(tiny_checkpoints, tiny_recipe, tmp_path):
    checkpoint = tmp_path / "st-checkpoint"
    shutil.copytree(tiny_checkpoints["roberta"], checkpoint)
    (checkpoint / "1_Pooling").mkdir()
    (checkpoint / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": False, "pooling_mode_max_tokens": True})
    )
    assert sentence_transformers_pooling(checkpoint) == "max"
    result = train(
        tiny_recipe("roberta", model_name_or_path=str(checkpoint), strategy="feature_extraction", max_steps=1)
    )
    assert result.trainer.model.config.pooling == "max"
    plain = train(
        tiny_recipe("bert", strategy="feature_extraction", max_steps=1, output_dir=str(tmp_path / "p"))
    )
    assert plain.trainer.model.config.pooling == "mean"  # no sentence-transformers config: mean


def test_feature_cache_trains_the_same_head_as_the_frozen_backbone(tiny_recipe, tmp_path):
    common = {
        "num_train_epochs": 2,
        "train_sampling_strategy": "random",
        "learning_rate": 5e-2,
        "strategy": {"type": "feature_extraction"},
    }
    uncached = train(tiny_recipe("bert", output_dir=str(tmp_path / "uncached"), **common))
    cache_dir = tmp_path / "features"
    common["strategy"] = {
        "type": "feature_extraction",
        "cache_features": True,
        "feature_cache_dir": str(cache_dir),
    }
    cached = train(tiny_recipe("bert", output_dir=str(tmp_path / "cached"), **common))
    for name in ("classifier.weight", "classifier.bias"):
        torch.testing.assert_close(
            cached.trainer.model.state_dict()[name],
            uncached.trainer.model.state_dict()[name],
            rtol=1e-4,
            atol=1e-5,
        )
    assert cached.metrics["test"]["accuracy"] == pytest.approx(uncached.metrics["test"]["accuracy"])
    assert cached.metrics["feature_cache"]["feature_size"] == 32
    assert sorted(p.name.split("-")[0] for p in cache_dir.iterdir()) == ["test", "train", "validation"]
    backbone = {k: v for k, v in cached.trainer.model.state_dict().items() if k.startswith("backbone.")}
    original = AutoModelForSequenceClassification.from_pretrained(tiny_recipe("bert")["model_name_or_path"])
    assert all(
        torch.equal(v, original.state_dict()[k.replace("backbone.", "bert.")]) for k, v in backbone.items()
    )
    again = train(tiny_recipe("bert", output_dir=str(tmp_path / "again"), **common))  # reuses the cache dir
    assert again.metrics["test"]["accuracy"] == cached.metrics["test"]["accuracy"]


def test_gradual_unfreezing_under_the_trainer(tiny_recipe, tiny_checkpoints):
    before = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints["bert"]).state_dict()
    strategy = {"type": "gradual_unfreezing", "every_steps": 2}
    result = train(tiny_recipe("bert", strategy=strategy, max_steps=3, weight_decay=0.1))
    after = result.trainer.model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert any(
        n.startswith("bert.encoder.layer.2.") for n in changed
    )  # unfrozen at step 2, trained at step 3
    assert not any(
        n.startswith(("bert.encoder.layer.0.", "bert.encoder.layer.1.", "bert.embeddings.")) for n in changed
    )
    assert {"classifier.weight", "bert.pooler.dense.weight"} <= changed
    assert result.metrics["strategy_report"]["unfreezing"] == [{"step": 2, "unfroze": "bert.encoder.layer.2"}]
    in_optimizer = {id(p) for group in result.trainer.optimizer.param_groups for p in group["params"]}
    layer1 = result.trainer.model.bert.encoder.layer[1].output.dense.weight
    assert id(layer1) in in_optimizer and not layer1.requires_grad  # waiting, already known to the optimizer


def test_held_blocks_train_exactly_like_frozen_ones(tiny_recipe, tiny_checkpoints, monkeypatch):
    """With several processes gradual unfreezing *holds* the waiting blocks (they require grad, so DDP registers
    them; their gradients are zeroed, then dropped before the optimizer step). Forced here in one process: the
    same run as with frozen blocks — held blocks bit-identical to the checkpoint under AdamW with weight decay, and
    gradient clipping and every trained weight unchanged by the zero gradients."""
    before = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints["bert"]).state_dict()
    common = {
        "strategy": {"type": "gradual_unfreezing", "every_steps": 2},
        "max_steps": 3,
        "weight_decay": 0.1,
    }
    frozen = train(tiny_recipe("bert", output_dir=str(tiny_checkpoints["bert"].parent / "frozen"), **common))
    monkeypatch.setattr(prepare, "StrategyContext", lambda **kw: StrategyContext(**{**kw, "world_size": 2}))
    held = train(tiny_recipe("bert", output_dir=str(tiny_checkpoints["bert"].parent / "held"), **common))
    layer1 = held.trainer.model.bert.encoder.layer[1].output.dense.weight
    assert layer1.requires_grad and not is_trainable(layer1)  # held: registered, not training
    a, b = held.trainer.model.state_dict(), frozen.trainer.model.state_dict()
    for name in before:
        if name.startswith(("bert.encoder.layer.0.", "bert.encoder.layer.1.", "bert.embeddings.")):
            assert torch.equal(a[name], before[name]), name
        else:
            torch.testing.assert_close(a[name], b[name], rtol=1e-6, atol=1e-8, msg=name)
    assert held.metrics["parameters"] == frozen.metrics["parameters"]


def test_layerwise_lr_decay_under_the_trainer(tiny_recipe):
    result = train(tiny_recipe("bert", layerwise_lr_decay=0.5, max_steps=1, lr_scheduler_type="constant"))
    rates = sorted({group["lr"] for group in result.trainer.optimizer.param_groups}, reverse=True)
    assert rates == pytest.approx([1e-3 * 0.5**d for d in range(5)])  # head, 3 blocks, embeddings


def test_dry_run_prints_what_would_train_without_training(tiny_recipe, tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(tiny_recipe("bert")))
    code = main(["inspect", "--recipe", str(recipe), "--strategy", '{"type": "top_layers", "num_layers": 1}'])
    assert code == 0
    printed = capsys.readouterr().out
    lines = {
        line.split()[0]: line for line in printed.splitlines() if line.startswith(("bert.", "head", "bottom"))
    }
    assert lines["bert.encoder.layer.2"].endswith("train") and lines["bert.encoder.layer.0"].endswith(
        "frozen"
    )
    assert "total:" in printed
    assert not (tmp_path / "run-bert").exists()  # nothing trained, nothing written


@pytest.mark.parametrize(
    ("overrides", "kind"),
    [
        ({"strategy": {"type": "peft", "top_layers": 1}}, "adapter"),
        ({"strategy": "top_layers", "pooling": "mean"}, "pooled"),
        ({"strategy": {"type": "peft", "top_layers": 1}, "pooling": "cls"}, "pooled-adapter"),
    ],
)
def test_every_kind_of_export_reloads_and_its_card_snippet_runs(tiny_recipe, overrides, kind):
    import re

    from huggingface_hub import ModelCard

    from hf_transfer.wrappers import load_trained_classifier

    result = train(tiny_recipe("bert", max_steps=2, learning_rate=5e-2, **overrides))
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    reloaded = load_trained_classifier(result.output_dir)
    assert_same_logits(logits_of(reloaded, tokenizer), logits_of(result.trainer.model, tokenizer))
    card = ModelCard.load(result.output_dir / "README.md")
    assert card.data.library_name == ("peft" if kind.endswith("adapter") else "transformers")
    snippet = re.search(r"```python\n(.*?)```", card.text, re.S).group(1)
    exec(compile(snippet, f"{kind}-card-snippet", "exec"), {})  # noqa: S102 - the card's own example must run


def test_the_feature_cache_key_changes_with_everything_the_features_depend_on(
    tiny_checkpoints, tiny_tokenizer
):
    """A checkpoint retrained in place, another tokenizer, max_length, pooling or dtype must not reuse old
    features; the same inputs reuse them."""
    from datasets import Dataset

    from hf_transfer.modeling import load_classifier, resolve_checkpoint
    from hf_transfer.strategies.feature_cache import feature_cache_key

    checkpoint = resolve_checkpoint(str(tiny_checkpoints["bert"]))

    def model(pooling="mean"):
        return load_classifier(checkpoint, id2label={0: "a", 1: "b"}, pooling=pooling)

    rows = Dataset.from_dict({"input_ids": [[2, 7, 3]], "labels": [0]})
    base = feature_cache_key(model(), rows, "float32", tiny_tokenizer, 64)
    assert feature_cache_key(model(), rows, "float32", tiny_tokenizer, 64) == base  # reused
    retrained = model()
    with torch.no_grad():
        retrained.backbone.encoder.layer[0].output.dense.bias.add_(1e-3)  # same config, other weights
    other_tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoints["bert"])
    other_tokenizer.add_tokens(["cinematography"])
    changed = {
        "weights": feature_cache_key(retrained, rows, "float32", tiny_tokenizer, 64),
        "tokenizer": feature_cache_key(model(), rows, "float32", other_tokenizer, 64),
        "max_length": feature_cache_key(model(), rows, "float32", tiny_tokenizer, 32),
        "pooling": feature_cache_key(model("cls"), rows, "float32", tiny_tokenizer, 64),
        "dtype": feature_cache_key(model(), rows, "bfloat16", tiny_tokenizer, 64),
        "rows": feature_cache_key(
            model(),
            Dataset.from_dict({"input_ids": [[2, 8, 3]], "labels": [0]}),
            "float32",
            tiny_tokenizer,
            64,
        ),
    }
    assert all(key != base for key in changed.values()), changed
    assert len(set(changed.values())) == len(changed)


def test_adalora_schedules_on_the_trainers_step_count_under_domain_adaptation(tiny_recipe):
    """A DANN epoch takes n_source / (batch · source_fraction) steps: twice what the source rows alone suggest."""
    recipe = tiny_recipe(
        "bert",
        dataset_name="sentiment_domains",
        dataset_config_name="movies",
        target_dataset_name="sentiment_domains",
        target_dataset_config_name="amazon",
        adaptation={"type": "dann", "measure_domain_gap": False},
        strategy={"type": "peft", "method": "adalora", "r": 4},
    )
    result = train(recipe)
    state = result.trainer.state
    assert state.max_steps == 8  # 64 source rows, batch 16 of which half source: 8 steps, not 4
    config = next(iter(result.trainer.model.task_model.peft_config.values()))
    assert (config.total_step, config.tinit, config.tfinal) == (8, 1, 1)


def test_unlabelled_rows_are_named_or_dropped_with_the_count(tiny_recipe, tmp_path, caplog):
    lines = ["text,label"] + [
        f"row {i},{'' if i in (3, 9) else ('pos' if i % 2 else 'neg')}" for i in range(40)
    ]
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(lines) + "\n")
    recipe = tiny_recipe("bert", dataset_name=None, train_file=str(data), max_steps=1)
    with pytest.raises(DataError, match=r"2 of 40 rows without a label.*data rows 4, 10"):
        train(recipe)
    caplog.set_level("WARNING")
    result = train({**recipe, "drop_unlabelled_rows": True})
    assert "Dropped 2 of 40 train rows without a label" in caplog.text
    assert result.metrics["rows"]["train"] + result.metrics["rows"]["validation"] == 38
