"""Export and push: the upload folder of every kind of result reloads with its stock class (or hf_transfer's, for
multi-task and pooled heads) and identical logits; its card's metadata round-trips and its snippet runs as
written; the push calls huggingface_hub (replaced at that boundary only) with the right arguments and never
leaks the token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from conftest import assert_same_logits
from huggingface_hub import ModelCard, RepoUrl
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForImageClassification,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

import hf_transfer.publish as publish
from hf_transfer import train
from hf_transfer.cards import render_model_card, render_output_card
from hf_transfer.cli.main import main
from hf_transfer.config import parse_recipe
from hf_transfer.data.describe import is_hub_id
from hf_transfer.errors import OutputDirError, PushError, RecipeError
from hf_transfer.licences import HUB_LICENCES, base_model_licence
from hf_transfer.objectives import build_objective
from hf_transfer.wrappers import MultiTaskModel, load_trained_classifier

FAKE_TOKEN = "hf_FakeTokenForTests0123456789abcdef"
ANOTHER_TOKEN = "hf_AnotherSecretOfRealTokenShape123456"  # not in use, but shaped like a real token
DOMAINS = {
    "dataset_name": "sentiment_domains",
    "dataset_config_name": "movies",
    "target_dataset_name": "sentiment_domains",
    "target_dataset_config_name": "amazon",
}
TASKS = {
    "tasks": [
        {"name": "sentiment", "label_column": "sentiment"},
        {"name": "subjectivity", "label_column": "subjectivity", "metrics": ["accuracy", "f1_macro"]},
    ]
}
# kind → (recipe overrides, the card's template marker); every kind's snippet runs where hf_transfer cannot be imported
KINDS = {
    "full": ({"save_strategy": "steps", "save_steps": 2}, "A text classifier"),
    "feature_extraction": (
        {"strategy": "feature_extraction", "pooling": "model"},
        "A text classifier",
    ),
    "pooled": ({"strategy": "feature_extraction", "pooling": "mean"}, "PooledClassifier"),
    "top_layers": ({"strategy": {"type": "top_layers", "num_layers": 1}}, "A text classifier"),
    "dann": (
        {**DOMAINS, "adaptation": {"type": "dann", "domain_gap_samples": 64}},
        "## Domain adaptation",
    ),
    "lora": ({"strategy": {"type": "peft", "top_layers": 1, "merge": True}}, "A PEFT adapter"),
    "pooled_lora": ({"pooling": "mean", "strategy": {"type": "peft", "top_layers": 1}}, "PooledClassifier"),
    "multitask": (
        {
            "dataset_config_name": "multitask",
            "multitask": TASKS,
            "max_train_samples": 96,
            "max_eval_samples": 48,
            "max_test_samples": 48,
        },
        "MultiTaskModel",
    ),
    "multitask_lora": (
        {
            "dataset_config_name": "multitask",
            "multitask": TASKS,
            "strategy": {"type": "peft", "top_layers": 1},
            "max_train_samples": 96,
            "max_eval_samples": 48,
            "max_test_samples": 48,
        },
        "under a PEFT adapter",
    ),
    "image": ({}, "An image classifier"),
    "image_lora": ({"strategy": {"type": "peft", "top_layers": 1}}, "A PEFT adapter"),
}
ADAPTERS = ("lora", "pooled_lora", "multitask_lora", "image_lora")
IMAGES = ("image", "image_lora")
FORBIDDEN = re.compile(
    r"(^|/)(checkpoint-\d+|optimizer|scheduler|rng_state|training_args|trainer_state|predictions_test)"
    r"|\.(bin|pt|pth|pkl|pickle|ckpt)$"
)


def train_kind(kind, tiny_recipe, tiny_image_recipe):
    overrides = KINDS[kind][0]
    if kind in IMAGES:
        return train(
            tiny_image_recipe("mobilenet_v2" if kind == "image_lora" else "vit", max_steps=2, **overrides)
        )
    return train(tiny_recipe("bert", max_steps=2, learning_rate=5e-2, **overrides))


def snippet_of(readme) -> str:
    return re.search(r"```python\n(.*?)```", ModelCard.load(readme).text, re.S).group(1)


def run_snippet(code: str, tmp_path) -> str:
    """Run a card's snippet as written in a fresh interpreter where ``import hf_transfer`` fails."""
    block = textwrap.dedent(
        """
        import importlib.abc as _abc, sys as _sys
        class _Block(_abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "hf_transfer" or name.startswith("hf_transfer."):
                    raise ImportError("hf_transfer is blocked: a card's snippet must run without it")
        _sys.meta_path.insert(0, _Block())
        """
    )
    script = tmp_path / "snippet.py"
    script.write_text(block + code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def files_of(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def logits(model, inputs):
    with torch.no_grad():
        return model.eval()(**inputs).logits


def inputs_for(kind, export):
    if kind in IMAGES:
        return {"pixel_values": torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))}
    tokenizer = AutoTokenizer.from_pretrained(export)
    return dict(tokenizer(["a fine film", "the plot is a mess"], padding=True, return_tensors="pt"))


@pytest.mark.parametrize("kind", list(KINDS))
def test_export_reloads_with_its_class_and_its_card_validates_and_runs(
    kind, tiny_recipe, tiny_image_recipe, tmp_path
):
    result = train_kind(kind, tiny_recipe, tiny_image_recipe)
    out = result.output_dir
    (out / "pytorch_model.bin").write_bytes(b"not exported")  # a stray pickle beside the model
    export = publish.export_folder(out)
    assert export == out / "hub_export"

    names = files_of(export)
    assert not [name for name in names if FORBIDDEN.search(name)], names
    assert {"README.md", "recipe.yaml", "metrics.json", "config.json"} <= names
    if kind == "full":
        assert any(p.name.startswith("checkpoint-") for p in out.iterdir())  # there was one to leave out
    if kind in ADAPTERS:
        assert {"adapter_config.json", "adapter_model.safetensors"} <= names
        assert "model.safetensors" not in names
        assert ("merged/model.safetensors" in names) == (kind == "lora")
    else:
        assert "model.safetensors" in names
    assert ("preprocessor_config.json" in names) == (kind in IMAGES)
    assert ("tokenizer.json" in names) == (kind not in IMAGES)
    if kind == "dann":
        assert "domain_gap.png" in names

    # Reload with the right class and identical logits.
    trainer = result.trainer
    objective = build_objective(parse_recipe(str(result.output_dir / "recipe.yaml")))
    trained = objective.exported_model(trainer.accelerator.unwrap_model(trainer.model))  # the wrapper dropped
    inputs = inputs_for(kind, export)
    if kind == "lora":
        from peft import AutoPeftModelForSequenceClassification

        config = AutoConfig.from_pretrained(export)
        reloaded = AutoPeftModelForSequenceClassification.from_pretrained(
            export, id2label=config.id2label, label2id=config.label2id
        )
        merged = AutoModelForSequenceClassification.from_pretrained(export / "merged")
        assert type(merged).__module__.startswith("transformers.models.")
        torch.testing.assert_close(logits(merged, inputs), logits(trained, inputs), rtol=1e-4, atol=1e-5)
    elif kind == "image_lora":
        from peft import AutoPeftModel, PeftModel

        config = AutoConfig.from_pretrained(export)
        reloaded = AutoPeftModel.from_pretrained(
            export, id2label=config.id2label, label2id=config.label2id, ignore_mismatched_sizes=True
        )
        assert isinstance(reloaded, PeftModel) and type(reloaded.get_base_model()).__module__.startswith(
            "transformers.models."
        )
    elif kind == "multitask_lora":
        reloaded = load_trained_classifier(export)
        assert type(reloaded.get_base_model()) is MultiTaskModel
    elif kind == "multitask":
        reloaded = AutoModel.from_pretrained(export)
        assert type(reloaded) is MultiTaskModel
    elif kind == "image":
        reloaded = AutoModelForImageClassification.from_pretrained(export)
        assert type(reloaded).__module__.startswith("transformers.models.")
    else:
        reloaded = AutoModelForSequenceClassification.from_pretrained(export)
        stock = type(reloaded).__module__.startswith("transformers.models.")
        assert stock == (kind not in ("pooled", "pooled_lora")), type(reloaded)  # pooled_lora: adapter loaded in
    assert_same_logits(logits(reloaded, inputs), logits(trained, inputs))

    # The card: its kind's template, metadata that round-trips, a model-index matching metrics.json.
    card = ModelCard.load(export / "README.md")
    assert KINDS[kind][1] in card.text
    again = ModelCard(str(card))
    assert again.data.to_dict() == card.data.to_dict()
    data = card.data
    assert data.pipeline_tag == ("image-classification" if kind in IMAGES else "text-classification")
    assert data.library_name == ("peft" if kind in ADAPTERS else "transformers")
    assert data.license is None or data.license in HUB_LICENCES
    assert data.base_model is None  # a local tiny checkpoint is no Hub model
    assert all(is_hub_id(d) for d in data.datasets or [])
    assert str(out.parent) not in yaml.safe_dump(data.to_dict())  # no local path in the metadata
    model_index = data.to_dict()["model-index"]
    name, results = model_index_to_eval_results(model_index)
    assert name == out.name and results == data.eval_results
    rendered = render_output_card(out, load_path=export.resolve()).data.eval_results  # before the YAML trip
    assert sorted(results, key=repr) == sorted(rendered, key=repr)
    assert eval_results_to_model_index(name, results) == model_index
    metrics = json.loads((export / "metrics.json").read_text())
    if kind.startswith("multitask"):
        found = {(r.metric_name, r.dataset_split): r.metric_value for r in results}
        assert found[("subjectivity f1_macro", "test")] == metrics["test"]["subjectivity_f1_macro"]
        assert found[("sentiment accuracy", "validation")] == metrics["validation"]["sentiment_accuracy"]
    else:
        found = {(r.dataset_config, r.dataset_split, r.metric_type): r.metric_value for r in results}
        source = {"dann": "movies", "image": None, "image_lora": None}.get(kind, "sentiment")
        assert found[(source, "test", "accuracy")] == metrics["test"]["accuracy"]
        assert found[(source, "validation", "f1")] == metrics["validation"]["f1"]
        assert not any(metric == "loss" for _, _, metric in found)
        if kind == "dann":
            assert found[("amazon", "test", "accuracy")] == metrics["target_test"]["accuracy"]
            assert "λ_max · (2 / (1 + exp(−γ·p)) − 1)" in card.text and "Proxy A-distance" in card.text
    assert f"{metrics['parameters']['trainable']:,} of {metrics['parameters']['total']:,}" in card.text
    if kind == "top_layers":
        assert re.search(r"\| bert\.encoder\.layer\.0 \| 0 \| [\d,]+ \| frozen \|", card.text)
        assert re.search(r"\| bert\.encoder\.layer\.2 \| ([\d,]+) \| \1 \| trained \|", card.text)
    if kind == "lora":
        assert "`lora_alpha`: `16`" in card.text and "`modules_to_save`" in card.text

    # Its snippet runs as written against the export folder, where hf_transfer cannot be imported.
    code = snippet_of(export / "README.md")
    assert f'path = "{export.resolve()}"' in code
    printed = run_snippet(code, tmp_path)
    if kind.startswith("multitask"):
        assert "sentiment" in printed and "subjectivity" in printed
    elif kind not in IMAGES:
        assert "negative" in printed and "positive" in printed


def test_card_licence_and_base_model_come_from_the_base_checkpoint(tiny_recipe, tmp_path):
    result = train(tiny_recipe("bert", max_steps=1))
    recipe = yaml.safe_load((result.output_dir / "recipe.yaml").read_text())
    metrics = json.loads((result.output_dir / "metrics.json").read_text())
    assert base_model_licence("sentence-transformers/all-MiniLM-L6-v2") == "apache-2.0"
    assert base_model_licence("mobilenet_v2_imagenet") == "bsd-3-clause"
    assert base_model_licence(recipe["model_name_or_path"]) is None  # the tiny checkpoint declares none

    card = render_model_card(
        {**recipe, "model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2"}, metrics, "x"
    )
    assert (
        card.data.license == "apache-2.0" and card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    )
    card = render_model_card({**recipe, "model_name_or_path": "mobilenet_v2_imagenet"}, metrics, "x")
    assert card.data.license == "bsd-3-clause" and card.data.base_model is None

    declared = tmp_path / "base"
    declared.mkdir()
    (declared / "README.md").write_text("---\nlicense: my-own-terms\n---\n# a model\n")
    card = render_model_card({**recipe, "model_name_or_path": str(declared)}, metrics, "x")
    assert card.data.license is None and "licence `my-own-terms`" in card.text  # named, not in the metadata
    (declared / "README.md").write_text("---\nlicense: mit\n---\n# a model\n")
    assert (
        render_model_card({**recipe, "model_name_or_path": str(declared)}, metrics, "x").data.license == "mit"
    )


@pytest.fixture
def trained(tiny_recipe):
    return train(tiny_recipe("bert", max_steps=1))


class FakeHub:
    """Stands in for huggingface_hub's create_repo / create_branch / upload_folder in hf_transfer.publish."""

    def __init__(self, monkeypatch, fail_with: str | None = None, user: str = "me", remote: tuple = ()):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.fail_with = fail_with
        self.user = user  # the namespace the Hub puts a bare repo name in, as `create_repo` answers
        self.remote = list(remote)  # the files already in the repo, as `list_repo_files` answers
        for name in ("create_repo", "create_branch", "upload_folder"):
            monkeypatch.setattr(publish, name, self._recorder(name))
        monkeypatch.setattr(publish, "list_repo_files", lambda *args, **kwargs: list(self.remote))

    def _recorder(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name == "create_repo":  # the Hub's answer: the repo's URL, with the full `namespace/name` id
                repo_id = args[0] if "/" in args[0] else f"{self.user}/{args[0]}"
                return RepoUrl(f"https://huggingface.co/{repo_id}")
            if name == "upload_folder":
                if self.fail_with:
                    raise OSError(self.fail_with)
                return f"https://huggingface.co/{kwargs['repo_id']}/commit/abc123"
            return None

        return call

    def named(self, name):
        return [(args, kwargs) for called, args, kwargs in self.calls if called == name]


def test_push_calls_the_hub_with_the_right_arguments(trained, monkeypatch):
    hub = FakeHub(monkeypatch)
    url = publish.push_to_hub(
        trained.output_dir,
        "me/tiny",
        private=True,
        revision="experiment",
        commit_message="First version",
        token=FAKE_TOKEN,
    )
    export = trained.output_dir / "hub_export"
    assert url == "https://huggingface.co/me/tiny/commit/abc123"
    assert hub.named("create_repo") == [
        (("me/tiny",), {"private": True, "exist_ok": True, "token": FAKE_TOKEN})
    ]
    assert hub.named("create_branch") == [
        (("me/tiny",), {"branch": "experiment", "exist_ok": True, "token": FAKE_TOKEN})
    ]
    assert hub.named("upload_folder") == [
        (
            (),
            {
                "folder_path": str(export),
                "repo_id": "me/tiny",
                "revision": "experiment",
                "commit_message": "First version",
                "token": FAKE_TOKEN,
                "delete_patterns": None,  # a new repo: nothing to delete
            },
        )
    ]
    code = snippet_of(export / "README.md")
    assert 'path = "me/tiny"' in code and str(trained.output_dir) not in code
    assert ModelCard.load(export / "README.md").data.model_name == "tiny"

    hub.calls.clear()  # again, without a revision: no branch, default message; the previous export is replaced
    publish.push_to_hub(trained.output_dir, "me/tiny", token=FAKE_TOKEN)
    assert [name for name, _, _ in hub.calls] == ["create_repo", "upload_folder"]
    assert hub.named("upload_folder")[0][1]["revision"] is None
    assert hub.named("upload_folder")[0][1]["commit_message"].startswith("Upload ")


def test_a_bare_repo_name_is_pushed_under_the_full_id_the_hub_answers(trained, monkeypatch):
    hub = FakeHub(monkeypatch, user="someone")
    url = publish.push_to_hub(trained.output_dir, "tiny", token=FAKE_TOKEN)
    assert url == "https://huggingface.co/someone/tiny/commit/abc123"
    assert hub.named("upload_folder")[0][1]["repo_id"] == "someone/tiny"
    code = snippet_of(trained.output_dir / "hub_export" / "README.md")
    assert 'path = "someone/tiny"' in code


def test_a_push_mirrors_the_export_deleting_what_an_earlier_export_had(trained, monkeypatch):
    """A repo holding an earlier push (an old merged/, an old plot) and files the user added (notes, a figure and
    weights in sub-folders): the commit deletes exactly the export-kind files the new export no longer has."""
    from huggingface_hub.utils import filter_repo_objects

    export = publish.push_to_hub(trained.output_dir, "me/tiny", token=FAKE_TOKEN, dry_run=True)
    uploaded = {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    added_by_user = {"notes/eval.txt", "docs/fig.png", "onnx/model.safetensors", ".gitattributes"}
    old = {"merged/model.safetensors", "merged/config.json", "old_curve.png"}
    hub = FakeHub(monkeypatch, remote=sorted(uploaded | added_by_user | old))
    publish.push_to_hub(trained.output_dir, "me/tiny", token=FAKE_TOKEN)
    patterns = hub.named("upload_folder")[0][1]["delete_patterns"]
    remote = sorted(uploaded | added_by_user | old)
    deleted = (
        set(filter_repo_objects(remote, allow_patterns=patterns)) - uploaded
    )  # as huggingface_hub applies them
    assert deleted == old


@pytest.mark.parametrize(
    "text",
    [
        "hf-transfer push /data/hf_transfer_runs/exp1 --repo-id me/model_hf_exp1",
        "see hf_hub_download and hf_transfer.publish",
    ],
)
def test_redaction_leaves_text_that_only_looks_a_bit_like_a_token(text):
    assert publish.redact(text, FAKE_TOKEN) == text


def test_redaction_masks_the_tokens_in_use_and_real_token_shapes():
    other = "hf_" + "Ab3" * 11 + "x"  # 34 characters after hf_, as a real user access token
    text = f"401 for {FAKE_TOKEN}; cached {other}; path /tmp/{other}-x"
    redacted = publish.redact(text, FAKE_TOKEN)
    assert FAKE_TOKEN not in redacted and other not in redacted and redacted.count("***") == 3


def test_dry_run_writes_the_folder_and_calls_nothing(trained, monkeypatch, tmp_path, capsys):
    hub = FakeHub(monkeypatch)
    export = publish.push_to_hub(trained.output_dir, "me/tiny", dry_run=True, export_dir=tmp_path / "exp")
    assert export == tmp_path / "exp" and (export / "model.safetensors").is_file()
    assert main(["push", str(trained.output_dir), "--repo-id", "me/tiny", "--dry-run"]) == 0
    assert (
        main(["push", str(trained.output_dir), "--dry-run"]) == 0
    )  # no repo id: the snippet names the folder
    assert "nothing uploaded" in capsys.readouterr().out
    assert hub.calls == []
    assert main(["push", str(trained.output_dir)]) == 2
    assert "needs --repo-id" in capsys.readouterr().err


def test_a_failed_push_keeps_the_export_says_how_to_retry_and_never_shows_the_token(
    trained, monkeypatch, caplog, capsys
):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    FakeHub(monkeypatch, fail_with=f"401 Unauthorized: invalid token {FAKE_TOKEN} (also {ANOTHER_TOKEN})")
    caplog.set_level("DEBUG")
    with pytest.raises(PushError) as raised:
        publish.push_to_hub(trained.output_dir, "me/tiny", private=True, revision="v2")
    message = str(raised.value)
    export = trained.output_dir / "hub_export"
    assert f"intact at {export}" in message and "401 Unauthorized" in message
    assert f"hf-transfer push {trained.output_dir} --repo-id me/tiny --private --revision v2" in message
    assert ANOTHER_TOKEN not in message and raised.value.__cause__ is None
    assert raised.value.__context__ is None

    assert (
        main(["push", str(trained.output_dir), "--repo-id", "me/tiny"]) == 2
    )  # the CLI, token from HF_TOKEN
    captured = capsys.readouterr()
    assert "hf-transfer push" in captured.err and "--repo-id me/tiny" in captured.err
    assert (export / "model.safetensors").is_file() and (export / "README.md").is_file()
    for text in (message, caplog.text, captured.out, captured.err):
        assert FAKE_TOKEN not in text
    for path in export.rglob("*"):
        if path.is_file():
            assert FAKE_TOKEN.encode() not in path.read_bytes(), path


def test_no_token_names_where_to_set_one(trained, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(publish, "get_token", lambda: None)
    hub = FakeHub(monkeypatch)
    with pytest.raises(PushError, match=r"HF_TOKEN.*hf auth login.*intact at"):
        publish.push_to_hub(trained.output_dir, "me/tiny")
    assert hub.calls == []


def test_export_never_overwrites_silently(trained, tmp_path):
    export = publish.export_folder(trained.output_dir)
    with pytest.raises(OutputDirError, match="already holds an export"):
        publish.export_folder(trained.output_dir)
    assert publish.export_folder(trained.output_dir, overwrite=True) == export
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputDirError, match="holds files an export never writes"):
        publish.export_folder(trained.output_dir, foreign, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_recipe_token_never_reaches_the_export(tiny_recipe, monkeypatch):
    result = train(tiny_recipe("bert", max_steps=1, hub_token=FAKE_TOKEN))
    export = publish.export_folder(result.output_dir)
    assert "hub_token" not in yaml.safe_load((export / "recipe.yaml").read_text())
    assert all(FAKE_TOKEN.encode() not in p.read_bytes() for p in export.rglob("*") if p.is_file())


def forbid_trainer_hub_calls(monkeypatch):
    """Any Hub call through an HfApi instance (what transformers' Trainer uses) fails the test."""
    from huggingface_hub import HfApi

    def refuse(*args, **kwargs):
        raise AssertionError("the Trainer called the Hub")

    for name in ("create_repo", "upload_folder", "create_commit", "create_branch", "upload_file"):
        monkeypatch.setattr(HfApi, name, refuse)


def test_push_to_hub_in_a_recipe_uploads_once_after_training(tiny_recipe, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    forbid_trainer_hub_calls(monkeypatch)
    hub = FakeHub(monkeypatch)
    caplog.set_level("INFO")
    recipe = tiny_recipe(
        "bert",
        max_steps=2,
        save_strategy="steps",
        save_steps=1,  # checkpoints the stock Trainer would push
        push_to_hub=True,
        hub_model_id="me/tiny",
        hub_private_repo=True,
        hub_revision="v1",
        hub_commit_message="From the recipe",
    )
    result = train(recipe)
    assert [name for name, _, _ in hub.calls] == ["create_repo", "create_branch", "upload_folder"]
    upload = hub.named("upload_folder")[0][1]
    assert upload["repo_id"] == "me/tiny" and upload["revision"] == "v1"
    assert upload["commit_message"] == "From the recipe"
    assert upload["folder_path"] == str(result.output_dir / "hub_export")
    assert hub.named("create_repo")[0][1]["private"] is True
    assert result.trainer.args.push_to_hub is False
    assert yaml.safe_load((result.output_dir / "recipe.yaml").read_text())["push_to_hub"] is True
    assert FAKE_TOKEN not in caplog.text


def test_a_failed_recipe_push_keeps_the_run_and_says_how_to_retry(tiny_recipe, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    forbid_trainer_hub_calls(monkeypatch)
    FakeHub(monkeypatch, fail_with=f"connection reset ({FAKE_TOKEN})")
    recipe = tiny_recipe("bert", max_steps=1, push_to_hub=True, hub_model_id="me/tiny")
    with pytest.raises(
        PushError, match=r"Retry with: hf-transfer push .*run-bert --repo-id me/tiny"
    ) as raised:
        train(recipe)
    assert FAKE_TOKEN not in str(raised.value)
    for name in ("model.safetensors", "metrics.json", "README.md", "hub_export/model.safetensors"):
        assert (Path(recipe["output_dir"]) / name).is_file(), name


def test_push_to_hub_needs_a_repo_id_and_a_token_before_training(tiny_recipe, monkeypatch):
    forbid_trainer_hub_calls(monkeypatch)
    with pytest.raises(RecipeError, match="needs hub_model_id"):
        train(tiny_recipe("bert", max_steps=1, push_to_hub=True))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(publish, "get_token", lambda: None)
    with pytest.raises(PushError, match="HF_TOKEN"):
        train(tiny_recipe("bert", max_steps=1, push_to_hub=True, hub_model_id="me/tiny"))
