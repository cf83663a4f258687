"""Domain adaptation: gradient reversal, alignment losses, the λ schedule, batch mixing, the wrapper under
the Trainer, export without the discriminator, domain-gap measurement, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import FAST_RUN, SMALL_TEXT_DATA, assert_same_logits, tiny_batch, tiny_model
from torch import nn
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hf_transfer import train
from hf_transfer.errors import DataError, RecipeError
from hf_transfer.objectives.domain_adaptation import (
    AdaptationConfig,
    DomainMixSampler,
    lambda_at,
    mix_domains,
    proxy_a_distance,
)
from hf_transfer.wrappers import (
    CoralLoss,
    DomainAdversarialLoss,
    DomainAdversarialModel,
    GradientReversal,
    GradientReversalFunction,
    MultiKernelMMDLoss,
)

DOMAINS = {
    "dataset_name": "sentiment_domains",
    "dataset_config_name": "movies",
    "target_dataset_name": "sentiment_domains",
    "target_dataset_config_name": "amazon",
}


@pytest.mark.parametrize("coeff", [0.0, 0.3, 1.0, 2.5])
def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward(coeff):
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.equal(GradientReversal(coeff)(x), x)
    reverse = lambda t: GradientReversalFunction.apply(t, coeff)  # noqa: E731
    analytic = torch.autograd.functional.jacobian(reverse, x).reshape(15, 15)  # from the backward
    numeric = torch.zeros(15, 15, dtype=torch.float64)  # finite differences of the forward
    flat, eps = x.detach().flatten(), 1e-6
    for i in range(15):
        step = torch.zeros(15, dtype=torch.float64)
        step[i] = eps
        numeric[:, i] = (reverse((flat + step).view(3, 5)) - reverse((flat - step).view(3, 5))).flatten() / (
            2 * eps
        )
    torch.testing.assert_close(numeric, torch.eye(15, dtype=torch.float64))
    torch.testing.assert_close(analytic, -coeff * numeric)
    upstream = torch.randn(3, 5, dtype=torch.float64)
    (GradientReversal(coeff)(x) * upstream).sum().backward()
    torch.testing.assert_close(x.grad, -coeff * upstream)


def test_lambda_schedules():
    ganin = AdaptationConfig(lambda_schedule="ganin", lambda_gamma=10.0)
    assert lambda_at(0.0, ganin) == 0.0
    assert lambda_at(0.5, ganin) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert lambda_at(1.0, ganin) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert lambda_at(0.3, AdaptationConfig(lambda_schedule="linear", lambda_max=0.5)) == pytest.approx(0.15)
    assert lambda_at(0.3, AdaptationConfig(lambda_schedule="constant", lambda_max=0.7)) == 0.7


def test_discriminator_learns_to_tell_the_domains_apart_and_reverses_into_the_features():
    torch.manual_seed(0)
    source = torch.randn(64, 8)
    target = torch.randn(64, 8) + 2.0
    head = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    loss_fn = DomainAdversarialLoss(head, GradientReversal(1.0))
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = loss_fn(source, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0] and loss_fn.last_accuracy > 0.9
    features = torch.cat([source, target]).requires_grad_(True)
    loss_fn(features[:64], features[64:]).backward()
    reversed_grad = features.grad.clone()
    features.grad = None
    plain = DomainAdversarialLoss(head, GradientReversal(-1.0))  # coefficient −1: the plain gradient
    plain(features[:64], features[64:]).backward()
    torch.testing.assert_close(reversed_grad, -features.grad)


def test_coral_and_mmd_are_small_for_matching_domains_and_grow_with_the_shift():
    torch.manual_seed(0)
    source = torch.randn(256, 4)
    same, shifted = torch.randn(256, 4), torch.randn(256, 4) * 3 + 1
    for loss in (CoralLoss(), MultiKernelMMDLoss()):
        near, far = float(loss(source, same)), float(loss(source, shifted))
        assert abs(near) < 0.05 * far and far > 0


def test_encoder_gradients_differ_from_source_only_and_lambda_zero_cancels_the_reversal():
    batch = tiny_batch("bert", size=8)
    labels = batch.pop("labels")
    labels[4:] = -100
    domains = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])

    def encoder_grad(alignment: str, coeff: float = 1.0, arch: str = "bert") -> torch.Tensor:
        torch.manual_seed(0)
        model = DomainAdversarialModel.wrap(tiny_model(arch), alignment=alignment)
        model.reversal.coeff = coeff
        model.train()
        torch.manual_seed(1)
        model(labels=labels, domains=domains, **batch).loss.backward()
        backbone = getattr(model.task_model, model.task_model.base_model_prefix)
        return next(
            p.grad.clone() for n, p in backbone.named_parameters() if "layer.0." in n and p.dim() == 2
        )

    source_only = encoder_grad("source_only")
    assert not torch.allclose(encoder_grad("dann"), source_only)
    torch.testing.assert_close(encoder_grad("dann", coeff=0.0), source_only)
    for alignment in ("coral", "mmd"):  # on DistilBERT's CLS features, where the tiny model's domains differ
        assert not torch.allclose(
            encoder_grad(alignment, arch="distilbert"), encoder_grad("source_only", arch="distilbert")
        )


@pytest.mark.parametrize("arch", ["bert", "distilbert", "vit", "convnext"])
def test_wrapper_round_trips_and_its_task_path_is_the_task_model(arch, tmp_path):
    from transformers import AutoModelForImageClassification

    model = DomainAdversarialModel.wrap(tiny_model(arch), alignment="dann").eval()
    batch = tiny_batch(arch)
    labels = batch.pop("labels")
    out = model(labels=labels, **batch)
    assert list(out.keys()) == ["loss", "logits"]  # evaluation: the task path alone
    torch.testing.assert_close(out.logits, model.task_model(**batch).logits)
    model.save_pretrained(tmp_path)
    auto = (
        AutoModelForImageClassification if arch in ("vit", "convnext") else AutoModelForSequenceClassification
    )
    reloaded = auto.from_pretrained(tmp_path).eval()
    assert type(reloaded) is DomainAdversarialModel
    assert_same_logits(reloaded(**batch).logits, out.logits)
    trained = model.train()(labels=labels, domains=torch.tensor([0, 0, 1, 1]), **batch)
    assert trained.loss.item() == pytest.approx(
        (trained.loss_parts["task_loss"] + trained.loss_parts["domain_loss"]).item()
    )


def test_sampler_mixes_every_batch_and_cycles_the_shorter_side():
    sampler = DomainMixSampler(n_source=10, n_target=3, batch_size=4, source_fraction=0.5, seed=0)
    order = list(sampler)
    assert len(order) == len(sampler) == 5 * 4
    batches = [order[i : i + 4] for i in range(0, len(order), 4)]
    assert all(sum(i < 10 for i in b) == 2 and sum(i >= 10 for i in b) == 2 for b in batches)
    assert sorted(i for i in order if i < 10) == list(range(10))  # one pass over the source
    targets = [i for i in order if i >= 10]
    assert set(targets) == {10, 11, 12} and len(targets) == 10  # the target side cycles
    sampler.set_epoch(1)  # a new order, still one pass over the source
    again = list(sampler)
    assert again != order and sorted(i for i in again if i < 10) == list(range(10))
    skewed = DomainMixSampler(n_source=9, n_target=50, batch_size=4, source_fraction=0.75, seed=0)
    assert all(sum(i < 9 for i in list(skewed)[k : k + 4]) == 3 for k in range(0, len(skewed), 4))


def test_mixing_hides_target_labels():
    from datasets import Dataset

    source = Dataset.from_dict({"input_ids": [[1], [2]], "labels": [0, 1]})
    target = Dataset.from_dict({"input_ids": [[3], [4], [5]], "labels": [1, 1, 0]})
    mixed = mix_domains(source, target, [-100] * len(target))
    assert mixed["labels"] == [0, 1, -100, -100, -100] and mixed["domains"] == [0, 0, 1, 1, 1]


def test_proxy_a_distance_separates_far_domains_from_matching_ones():
    rng = np.random.default_rng(0)
    same = proxy_a_distance(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)))
    far = proxy_a_distance(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) + 4)
    assert far > 1.8 and abs(same) < 0.4


@pytest.fixture
def dann_run(tiny_recipe):
    recipe = tiny_recipe(
        "bert",
        **DOMAINS,
        adaptation={"type": "dann", "domain_gap_samples": 64},
        max_steps=4,
        eval_strategy="steps",
        eval_steps=2,
    )
    return train(recipe)


def test_dann_run_reports_source_and_target_and_the_domain_gap(dann_run):
    metrics = dann_run.metrics
    assert {"validation", "test", "target_test"} <= set(metrics)
    report = metrics["domain_adaptation"]
    assert report["config"]["type"] == "dann" and report["target_rows"]["train"] == 2880
    assert set(report) >= {"proxy_a_distance_before", "proxy_a_distance_after"}  # values: the tests below
    assert (dann_run.output_dir / "domain_gap.png").stat().st_size > 10_000
    logged = [h for h in dann_run.trainer.state.log_history if "task_loss" in h]
    assert logged and all({"domain_loss", "domain_accuracy", "lambda"} <= set(h) for h in logged)
    for entry in logged:  # λ was set at the start of the logged step, from the Trainer's step alone
        config = AdaptationConfig()
        assert entry["lambda"] == pytest.approx(lambda_at((entry["step"] - 1) / 4, config), abs=1e-4)


def test_evaluation_never_advances_lambda(dann_run):
    wrapper = dann_run.trainer.model
    before = wrapper.reversal.coeff
    dann_run.trainer.evaluate()
    dann_run.trainer.evaluate()
    assert wrapper.reversal.coeff == before == pytest.approx(lambda_at(3 / 4, AdaptationConfig()))


def test_export_is_a_stock_model_with_the_task_paths_logits(dann_run):
    out = dann_run.output_dir
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertForSequenceClassification"]
    exported = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert type(exported).__name__ == "BertForSequenceClassification"
    tokenizer = AutoTokenizer.from_pretrained(out)
    inputs = tokenizer(["great value", "broke in a week"], padding=True, return_tensors="pt")
    wrapper = dann_run.trainer.model.eval()
    with torch.no_grad():
        assert_same_logits(exported(**inputs).logits, wrapper(**inputs).logits)
    assert not any(name.startswith("discriminator") for name in exported.state_dict())


@pytest.mark.parametrize(
    "strategy", [{"type": "top_layers", "num_layers": 1}, {"type": "peft", "top_layers": 1}]
)
def test_dann_over_selective_strategies(tiny_recipe, tiny_checkpoints, strategy):
    before = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints["bert"]).state_dict()
    recipe = tiny_recipe(
        "bert",
        **DOMAINS,
        adaptation={"type": "dann", "measure_domain_gap": False},
        strategy=strategy,
        max_steps=3,
    )
    result = train(recipe)
    task = result.trainer.model.task_model
    base = task.get_base_model() if hasattr(task, "get_base_model") else task
    for name, tensor in base.state_dict().items():
        frozen = name.startswith(("bert.encoder.layer.0.", "bert.encoder.layer.1.", "bert.embeddings."))
        if frozen and "lora" not in name:
            assert torch.equal(tensor, before[name.replace(".base_layer", "")]), name
    assert any(p.requires_grad for p in result.trainer.model.discriminator.parameters())


def test_the_domain_gap_is_small_within_a_domain_and_large_across_a_shift(tiny_recipe, tmp_path):
    """The pipeline's proxy A-distance from the same source: other movie snippets as the "target" (one
    distribution: near 0) and those snippets behind a run of punctuation (a shift every feature shows)."""
    from hf_transfer.data import load_builtin_dataset

    rows = load_builtin_dataset("sentiment_domains", "movies")["train"].select(range(400, 800))
    same, shifted = tmp_path / "same.csv", tmp_path / "shifted.csv"
    rows.select_columns(["text"]).to_csv(str(same), index=False)
    shout = rows.map(lambda r: {"text": "!!! ??? " * 8 + r["text"]})
    shout.select_columns(["text"]).to_csv(str(shifted), index=False)
    gaps = {}
    for name, target in (("same", same), ("shifted", shifted)):
        recipe = tiny_recipe(
            "bert",
            dataset_name="sentiment_domains",
            dataset_config_name="movies",
            target_train_file=str(target),
            adaptation={"type": "dann", "domain_gap_samples": 300},
            max_test_samples=300,
            max_steps=1,
            output_dir=str(tmp_path / name),
        )
        gaps[name] = train(recipe).metrics["domain_adaptation"]["proxy_a_distance_before"]
    assert abs(gaps["same"]) < 0.5 and gaps["shifted"] > 1.0, gaps


@pytest.fixture(scope="module")
def alignment_runs(tiny_checkpoints, tmp_path_factory):
    """One 3-step run per alignment on the same batches (weight 5 so that the alignment term matters)."""
    runs = {}
    for alignment in ("coral", "mmd", "mcc", "udalm", "source_only"):
        recipe = {
            "model_name_or_path": str(tiny_checkpoints["bert"]),
            **SMALL_TEXT_DATA,
            **FAST_RUN,
            **DOMAINS,
            "output_dir": str(tmp_path_factory.mktemp(alignment) / "run"),
            "adaptation": {"type": alignment, "measure_domain_gap": False, "domain_loss_weight": 5.0},
            "max_steps": 3,
        }
        runs[alignment] = train(recipe)
    return runs


@pytest.mark.parametrize("alignment", ["coral", "mmd", "mcc", "udalm"])
def test_alignment_methods_train_on_their_loss(alignment_runs, alignment):
    """Through the same data path as DANN: the method's loss is logged every step, and it changes the trained
    weights relative to the source-only baseline, which sees the same batches with no domain loss."""
    result, baseline = alignment_runs[alignment], alignment_runs["source_only"]
    key = "mlm_loss" if alignment == "udalm" else "domain_loss"
    logged = [e[key] for e in result.trainer.state.log_history if key in e]
    assert len(logged) == 3  # CORAL's is ~1e-5 here (logged as 0.0); MMD's unbiased estimate may be < 0
    if alignment == "mcc":
        assert all(0 < value <= 0.5 for value in logged)  # two classes: confusion in (0, 1/2]
    base_logged = [e.get("domain_loss", 0.0) for e in baseline.trainer.state.log_history if "loss" in e]
    assert all(value == 0 for value in base_logged)
    moved = result.trainer.model.task_model.state_dict()
    still = baseline.trainer.model.task_model.state_dict()
    assert any(not torch.equal(moved[name], still[name]) for name in still if name.startswith("bert.encoder"))
    assert "target_test" in result.metrics


def test_target_labels_unknown_to_the_source_are_an_error(tiny_recipe, tmp_path):
    import pandas as pd

    target = tmp_path / "target.csv"
    pd.DataFrame(
        {"text": ["ok", "bad", "meh", "fine"], "label": ["positive", "negative", "neutral", "positive"]}
    ).to_csv(target, index=False)
    recipe = tiny_recipe("bert", adaptation="dann", target_train_file=str(target))
    with pytest.raises(DataError, match=r"label\(s\) absent from the source's labels: 'neutral'"):
        train(recipe)


def test_empty_target_is_an_error(tiny_recipe, tmp_path):
    target = tmp_path / "empty.csv"
    target.write_text("text,label\n")
    with pytest.raises(DataError, match="empty"):
        train(tiny_recipe("bert", adaptation="dann", target_train_file=str(target)))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"adaptation": "dann"}, "needs a target domain"),
        ({"target_dataset_name": "sentiment_domains"}, "no `adaptation`"),
        ({"adaptation": "dan", "target_dataset_name": "x"}, r"unknown type 'dan'.*Did you mean 'dann'"),
        ({"adaptation": {"type": "dann", "lamda_max": 1}, "target_dataset_name": "x"}, "'lambda_max'"),
        (
            {"adaptation": {"type": "dann", "source_fraction": 1.0}, "target_dataset_name": "x"},
            "source_fraction",
        ),
    ],
)
def test_bad_adaptation_recipes(values, message):
    from hf_transfer import parse_recipe

    with pytest.raises(RecipeError, match=message):
        parse_recipe(
            {
                "model_name_or_path": "m",
                "dataset_name": "rotten_tomatoes_snippets",
                "output_dir": "/tmp/o",
                **values,
            }
        )
