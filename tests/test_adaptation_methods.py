"""The adaptation methods beyond feature alignment: MCC, UDALM (masked-LM on target text), AdaBN, label-shift
correction; their losses' documented forms, their runs, their exports and their bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_same_logits, tiny_image_processor
from torch import nn
from transformers import AutoModelForImageClassification, AutoModelForSequenceClassification, AutoTokenizer

from hf_transfer import parse_recipe, train
from hf_transfer.data import data_collator
from hf_transfer.data.images import ImageTransform
from hf_transfer.errors import RecipeError, StrategyError
from hf_transfer.modeling.batchnorm import keep_frozen_batchnorm_in_eval, reestimate_batchnorm
from hf_transfer.objectives.domain_adaptation.masking import TargetMaskingCollator
from hf_transfer.objectives.domain_adaptation.priors import (
    bake_correction,
    bbse_priors,
    calibrated_probabilities,
    em_priors,
    fit_calibration,
)
from hf_transfer.wrappers.target_losses import (
    ConsistencyLoss,
    MaskedLanguageModelHead,
    MinimumClassConfusionLoss,
)

DOMAINS = {
    "dataset_name": "sentiment_domains",
    "dataset_config_name": "movies",
    "target_dataset_name": "sentiment_domains",
    "target_dataset_config_name": "amazon",
}


def mcc_by_hand(logits: np.ndarray, temperature: float) -> float:
    """The paper's formula, written out with numpy loops."""
    scaled = logits / temperature
    p = np.exp(scaled - scaled.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n, c = p.shape
    h = -(p * np.log(p + 1e-5)).sum(1)
    w = 1 + np.exp(-h)
    w = n * w / w.sum()
    confusion = np.zeros((c, c))
    for i in range(n):
        confusion += w[i] * np.outer(p[i], p[i])
    confusion /= confusion.sum(1, keepdims=True)
    return (confusion.sum() - np.trace(confusion)) / c


def test_mcc_has_the_documented_form_and_bounds():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(12, 4)) * 2
    loss = MinimumClassConfusionLoss(temperature=2.5)(torch.tensor(logits, dtype=torch.float32))
    assert float(loss) == pytest.approx(mcc_by_hand(logits, 2.5), rel=1e-5)
    confident = torch.eye(4).repeat(3, 1) * 50
    assert float(MinimumClassConfusionLoss(1.0)(confident)) < 1e-6
    uniform = torch.zeros(8, 4)
    assert float(MinimumClassConfusionLoss(1.0)(uniform)) == pytest.approx(3 / 4, abs=1e-6)


def test_mcc_gradient_sharpens_confused_predictions():
    logits = torch.tensor([[0.3, 0.0], [0.0, 0.2], [0.1, 0.0]], requires_grad=True)
    MinimumClassConfusionLoss(1.0)(logits).backward()
    margin_gradient = (logits.grad[:, 0] - logits.grad[:, 1]).sign()
    # descending the loss widens each row's margin towards its own predicted class
    assert margin_gradient.tolist() == [-1.0, 1.0, -1.0]


def test_masked_lm_head_is_cross_entropy_on_masked_tokens_with_tied_embeddings():
    torch.manual_seed(0)
    head = MaskedLanguageModelHead(hidden_size=8, vocab_size=20)
    embeddings = torch.randn(20, 8)
    hidden = torch.randn(2, 5, 8)
    labels = torch.full((2, 5), -100)
    labels[0, 1], labels[1, 3] = 7, 11
    expected_logits = (
        head.layer_norm(head.activation(head.dense(hidden[labels != -100]))) @ embeddings.T + head.bias
    )
    expected = nn.functional.cross_entropy(expected_logits, torch.tensor([7, 11]))
    assert torch.allclose(head(hidden, labels, embeddings), expected)
    assert float(head(hidden, torch.full((2, 5), -100), embeddings)) == 0.0


def test_masked_lm_head_loads_bert_and_roberta_heads():
    from transformers import AutoModelForMaskedLM, BertConfig, RobertaConfig

    common = {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 9}
    for config in (BertConfig(vocab_size=30, **common), RobertaConfig(vocab_size=30, **common)):
        model = AutoModelForMaskedLM.from_config(config)
        head_state = {
            k: v for k, v in model.state_dict().items() if not k.startswith(model.base_model_prefix)
        }
        head = MaskedLanguageModelHead(8, 30)
        assert head.load_pretrained(head_state)
        dense = [v for k, v in head_state.items() if k.endswith("dense.weight")][0]
        assert torch.equal(head.dense.weight, dense)
    assert not MaskedLanguageModelHead(8, 30).load_pretrained({})


def test_target_masking_masks_target_rows_only_and_never_special_tokens(tiny_tokenizer):
    torch.manual_seed(0)
    texts = ["a great film with a fine cast"] * 4 + ["this blender broke after a week of use"] * 4
    features = [{**tiny_tokenizer(t), "domains": d} for t, d in zip(texts, [0] * 4 + [1] * 4, strict=True)]
    collator = TargetMaskingCollator(data_collator(tiny_tokenizer), tiny_tokenizer, probability=0.5)
    batch = collator(features)
    plain = data_collator(tiny_tokenizer)(features)
    source, target = batch["domains"] == 0, batch["domains"] == 1
    assert torch.equal(batch["input_ids"][source], plain["input_ids"][source])
    assert (batch["mlm_targets"][source] == -100).all()
    masked = batch["mlm_targets"] != -100
    assert masked[target].any()
    assert torch.equal(
        batch["mlm_targets"][masked], plain["input_ids"][masked]
    )  # labels: the original tokens
    special = torch.isin(plain["input_ids"], torch.tensor(tiny_tokenizer.all_special_ids))
    assert not (masked & special).any()
    assert (batch["input_ids"][masked] == tiny_tokenizer.mask_token_id).float().mean() > 0.5
    evaluation = collator([{k: v for k, v in f.items() if k != "domains"} for f in features])
    assert "mlm_targets" not in evaluation


def test_udalm_trains_the_encoder_on_target_text_and_exports_a_stock_model(tiny_recipe):
    result = train(
        tiny_recipe("bert", **DOMAINS, adaptation={"type": "udalm", "measure_domain_gap": False}, max_steps=3)
    )
    report = result.metrics["domain_adaptation"]
    assert report["mlm_head"] == "fresh"  # the tiny checkpoint is a sequence classifier: no masked-LM head
    logged = [e for e in result.trainer.state.log_history if "mlm_loss" in e]
    assert len(logged) == 3 and all(np.isfinite(e["mlm_loss"]) and e["mlm_loss"] > 1.0 for e in logged)
    assert not any("lambda" in e for e in result.trainer.state.log_history)  # no reversal outside dann
    assert "masked-LM head: fresh, dropped from the export" in (result.output_dir / "README.md").read_text()
    exported = AutoModelForSequenceClassification.from_pretrained(result.output_dir).eval()
    assert type(exported).__name__ == "BertForSequenceClassification"
    assert not any("mlm" in name for name in exported.state_dict())
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    inputs = tokenizer(["great value", "broke in a week"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert_same_logits(exported(**inputs).logits, result.trainer.model.eval()(**inputs).logits)


def test_udalm_needs_a_mask_token(tiny_recipe, tiny_checkpoints, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoints["bert"])
    tokenizer.mask_token = None
    checkpoint = tmp_path / "no-mask"
    AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints["bert"]).save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    recipe = tiny_recipe("bert", **DOMAINS, adaptation="udalm", model_name_or_path=str(checkpoint))
    with pytest.raises(StrategyError, match="no mask token"):
        train(recipe)
    assert not (tmp_path / "run-bert").exists()  # refused before the folder was claimed


# -- FixMatch --------------------------------------------------------------------------------------------------


def test_consistency_loss_is_cross_entropy_to_confident_weak_predictions():
    weak = torch.tensor([[4.0, 0.0], [0.2, 0.0], [0.0, 5.0]], requires_grad=True)
    strong = torch.tensor([[0.5, 0.1], [1.0, -1.0], [0.3, 0.2]], requires_grad=True)
    loss = ConsistencyLoss(threshold=0.9)(weak, strong)
    kept = nn.functional.cross_entropy(strong[[0, 2]], torch.tensor([0, 1]), reduction="sum") / 3
    assert torch.allclose(loss, kept)  # the unconfident middle row counts 0, the mean is over all 3
    loss.backward()
    assert weak.grad is None or not weak.grad.any()  # the pseudo-labels carry no gradient
    assert strong.grad[1].abs().sum() == 0


def test_fixmatch_forwards_labelled_weak_and_strong_rows_as_one_batch():
    """Batch-norm statistics must come from the whole batch (as in FixMatch's reference code), never from the strong
    target views alone: the wrapper's one forward equals a stock forward over the rows plus the strong views."""
    import copy

    from conftest import tiny_image_config

    from hf_transfer.wrappers.domain_adversarial import DomainAdversarialModel

    torch.manual_seed(0)
    config = tiny_image_config("mobilenet_v2")
    config.classifier_dropout_prob = 0.0  # train mode, yet the same logits in both forwards
    stock = AutoModelForImageClassification.from_config(config).train()
    wrapper = DomainAdversarialModel.wrap(copy.deepcopy(stock), alignment="fixmatch", fixmatch_threshold=0.0).train()
    calls = []
    wrapper.task_model.register_forward_hook(lambda *_: calls.append(1))
    pixels, strong = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    domains, labels = torch.tensor([0, 0, 1, 1]), torch.tensor([1, 2, -100, -100])
    output = wrapper(pixel_values=pixels, strong_pixel_values=strong, labels=labels, domains=domains)
    assert len(calls) == 1 and output.logits.shape == (4, 5)  # one forward; the strong rows are split off

    joint = stock(pixel_values=torch.cat([pixels, strong[2:]])).logits
    for ours, theirs in zip(wrapper.task_model.modules(), stock.modules(), strict=True):
        if isinstance(ours, nn.BatchNorm2d):  # the same running statistics as the joint stock forward
            torch.testing.assert_close(ours.running_mean, theirs.running_mean)
            torch.testing.assert_close(ours.running_var, theirs.running_var)
    torch.testing.assert_close(output.logits, joint[:4])
    task = nn.functional.cross_entropy(joint[:2], labels[:2])
    consistency = ConsistencyLoss(threshold=0.0)(joint[2:4], joint[4:])
    torch.testing.assert_close(output.loss_parts["task_loss"], task)
    torch.testing.assert_close(output.loss_parts["domain_loss"], consistency)


def test_strong_view_is_a_different_image_of_the_same_shape():
    from conftest import colour_image

    from hf_transfer.data.images import Augmentation, WeakAndStrongViews

    torch.manual_seed(0)
    weak = ImageTransform(
        tiny_image_processor("vit"), image_size=32, augmentation=Augmentation(horizontal_flip=True)
    )
    views = WeakAndStrongViews(weak)({"image": [colour_image(i % 3, seed=i) for i in range(6)]})
    assert len(views["pixel_values"]) == len(views["strong_pixel_values"]) == 6
    for a, b in zip(views["pixel_values"], views["strong_pixel_values"], strict=True):
        assert a.shape == b.shape and not torch.equal(a, b)


def test_fixmatch_trains_on_both_views_and_exports_a_stock_model(tiny_image_recipe, image_folder, tmp_path):
    result = train(
        tiny_image_recipe(
            "mobilenet_v2",
            target_dataset_name=str(image_folder),
            target_degrade=["blur"],
            adaptation={"type": "fixmatch", "fixmatch_threshold": 0.3, "measure_domain_gap": False},
            image_size=32,
            max_steps=2,
        )
    )
    logged = [e for e in result.trainer.state.log_history if "mask_rate" in e]
    assert len(logged) == 2 and all(0 <= e["mask_rate"] <= 1 and e["domain_loss"] >= 0 for e in logged)
    assert any(e["mask_rate"] > 0 for e in logged)  # a threshold of 0.3 over 3 classes keeps rows
    exported = AutoModelForImageClassification.from_pretrained(result.output_dir)
    assert type(exported).__name__ == "MobileNetV2ForImageClassification"


def test_fixmatch_needs_images(tiny_recipe):
    with pytest.raises(StrategyError, match="fixmatch augments target images"):
        train(tiny_recipe("bert", **DOMAINS, adaptation="fixmatch"))


# -- AdaBN -------------------------------------------------------------------------------------------------------


def test_reestimate_batchnorm_gives_the_target_statistics_frozen_layers_included():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5))
    model[1].requires_grad_(False)  # frozen: normally keeps its statistics
    keep_frozen_batchnorm_in_eval(model)
    weights = {
        k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k
    }
    batch = torch.randn(16, 3, 5, 5) * 3 + 2
    model.train()
    assert reestimate_batchnorm(model, [{"input": batch}]) == 1
    features = model[0](batch).detach()
    torch.testing.assert_close(model[1].running_mean, features.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(model[1].running_var, features.var(dim=(0, 2, 3), unbiased=True))
    assert model.training and model[1].momentum == 0.1
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


def target_pixels(arch: str) -> torch.Tensor:
    from conftest import colour_image

    transform = ImageTransform(tiny_image_processor(arch), image_size=32)
    return torch.stack(transform({"image": [colour_image(i % 3, seed=i) for i in range(4)]})["pixel_values"])


def test_adabn_exports_the_target_batchnorm_statistics(tiny_image_recipe, image_folder, tmp_path):
    """The adabn export is the source_only run on the same batches with its batch-norm statistics re-estimated on
    the target: its weights are source_only's, and its first batch-norm layer holds exactly the mean and variance
    of that layer's inputs over the (degraded) target train images, computed here independently."""
    from hf_transfer.config.arguments import DataArguments
    from hf_transfer.data import load_raw_datasets

    common = {
        "target_dataset_name": str(image_folder),
        "target_degrade": ["low_light"],
        "target_degrade_severity": 5,
        "max_steps": 2,
        "image_size": 32,
        "per_device_eval_batch_size": 64,  # all 48 target train images in one batch
    }
    runs = {}
    for kind in ("source_only", "adabn"):
        adaptation = {"type": kind, "measure_domain_gap": False}
        runs[kind] = train(
            tiny_image_recipe(
                "mobilenet_v2", adaptation=adaptation, output_dir=str(tmp_path / kind), **common
            )
        )
    report = runs["adabn"].metrics["domain_adaptation"]["target_batch_norm"]
    assert report == {"layers": report["layers"], "rows": 48} and report["layers"] > 10
    adapted = AutoModelForImageClassification.from_pretrained(runs["adabn"].output_dir)
    plain = AutoModelForImageClassification.from_pretrained(runs["source_only"].output_dir).eval()
    adapted_state, plain_state = adapted.state_dict(), plain.state_dict()
    assert all(
        torch.equal(adapted_state[k], plain_state[k])
        for k in plain_state
        if "running" not in k and "num_batches" not in k
    )
    target = load_raw_datasets(
        DataArguments(dataset_name=str(image_folder), degrade=["low_light"], degrade_severity=5), seed=0
    )["train"]
    pixels = torch.stack(
        ImageTransform(tiny_image_processor("mobilenet_v2"), image_size=32)({"image": target["image"]})[
            "pixel_values"
        ]
    )
    first = next(m for m in plain.modules() if isinstance(m, nn.BatchNorm2d))
    captured = []
    handle = first.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    with torch.no_grad():
        plain(pixel_values=pixels)
    handle.remove()
    inputs = captured[0]
    first_adapted = next(m for m in adapted.modules() if isinstance(m, nn.BatchNorm2d))
    torch.testing.assert_close(first_adapted.running_mean, inputs.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(first_adapted.running_var, inputs.var(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(first.running_mean, first_adapted.running_mean, atol=1e-3)


def test_adabn_needs_batch_norm(tiny_recipe):
    with pytest.raises(StrategyError, match="no batch-norm layer"):
        train(tiny_recipe("bert", **DOMAINS, adaptation="adabn"))


# -- label-shift correction --------------------------------------------------------------------------------------


def two_gaussians(n: int, positive: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Rows of two unit-variance classes at ±1 and the exact log-posteriors under equal priors."""
    labels = (rng.random(n) < positive).astype(int)
    x = rng.normal(size=n) + np.where(labels == 1, 1.0, -1.0)
    logits = np.stack([-2 * x, 2 * x], axis=1) / 2  # log p(x|y) up to a constant: ±x
    return logits, labels


def test_em_and_bbse_recover_the_target_priors():
    rng = np.random.default_rng(0)
    val_logits, val_labels = two_gaussians(4000, 0.5, rng)
    target_logits, _ = two_gaussians(6000, 0.8, rng)
    temperature, bias = fit_calibration(val_logits, val_labels)
    assert temperature == pytest.approx(1.0, abs=0.1) and np.abs(bias).max() < 0.1
    probabilities = calibrated_probabilities(target_logits, temperature, bias)
    priors, steps = em_priors(probabilities, np.array([0.5, 0.5]))
    assert priors[1] == pytest.approx(0.8, abs=0.03) and steps > 1
    bbse = bbse_priors(val_logits.argmax(1), val_labels, target_logits.argmax(1), 2)
    assert bbse[1] == pytest.approx(0.8, abs=0.04)


def test_calibration_undoes_an_overconfident_temperature():
    rng = np.random.default_rng(1)
    logits, labels = two_gaussians(4000, 0.5, rng)
    temperature, _ = fit_calibration(logits * 3, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)


def test_baked_correction_is_the_documented_logits_shift():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    x = torch.randn(5, 4)
    before = layer(x).detach()
    bias, log_ratio = (
        np.array([0.1, -0.2, 0.1]),
        np.log(np.array([0.5, 0.3, 0.2]) / np.array([0.2, 0.3, 0.5])),
    )
    bake_correction(layer, 2.0, bias, log_ratio)
    expected = before / 2.0 + torch.tensor(bias + log_ratio, dtype=torch.float32)
    torch.testing.assert_close(layer(x), expected)


@pytest.fixture(scope="module")
def prior_runs(tiny_checkpoints, tmp_path_factory):
    """The same 2-step source_only run three times: uncorrected, corrected (guard off), guarded out."""
    from conftest import FAST_RUN, SMALL_TEXT_DATA

    runs = {}
    for name, extra in (
        ("none", {}),
        ("em", {"prior_correction": "em", "prior_tolerance": 1.0}),
        ("guarded", {"prior_correction": "em", "prior_tolerance": 1e-9}),
    ):
        recipe = {
            "model_name_or_path": str(tiny_checkpoints["bert"]),
            **SMALL_TEXT_DATA,
            **FAST_RUN,
            **DOMAINS,
            "output_dir": str(tmp_path_factory.mktemp(name) / "run"),
            "adaptation": {"type": "source_only", "measure_domain_gap": False},
            "max_steps": 2,
            **extra,
        }
        runs[name] = train(recipe)
    return runs


def stock_logits(path) -> torch.Tensor:
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    inputs = tokenizer(["great value", "broke in a week", "fine"], padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits


def test_prior_corrected_export_is_the_stock_model_with_the_recorded_shift(prior_runs):
    report = prior_runs["em"].metrics["domain_adaptation"]["prior_correction"]
    assert report["applied"] and len(report["target_priors"]) == 2
    assert sum(report["target_priors"]) == pytest.approx(1.0, abs=1e-3)
    plain, corrected = stock_logits(prior_runs["none"].output_dir), stock_logits(prior_runs["em"].output_dir)
    expected = (
        plain / report["temperature"]
        + torch.tensor(report["calibration_bias"])
        + torch.tensor(report["log_ratio"])
    )
    torch.testing.assert_close(corrected, expected, atol=2e-3, rtol=1e-3)  # the report's values are rounded
    selection = prior_runs["em"].metrics["domain_adaptation"]["selection"]
    assert selection["checkpoint"] == "last step" and selection["target_entropy"] > 0
    card = (prior_runs["em"].output_dir / "README.md").read_text()
    assert "Label shift (`prior_correction: em`)" in card and "Applied:" in card
    assert "target labels were never used to choose it" in card
    assert "Not applied: EM and BBSE disagree" in (prior_runs["guarded"].output_dir / "README.md").read_text()


def test_prior_correction_guard_leaves_the_model_as_trained(prior_runs):
    report = prior_runs["guarded"].metrics["domain_adaptation"]["prior_correction"]
    assert not report["applied"] and "disagree" in report["reason"]
    assert_same_logits(
        stock_logits(prior_runs["guarded"].output_dir), stock_logits(prior_runs["none"].output_dir)
    )
    assert "prior_correction" not in prior_runs["none"].metrics["domain_adaptation"]


# -- bad input ---------------------------------------------------------------------------------------------------

BASE = {"model_name_or_path": "m", "dataset_name": "rotten_tomatoes_snippets", "output_dir": "/tmp/o"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"adaptation": {"type": "mcc", "mcc_temperature": 0}, "target_dataset_name": "x"},
            "mcc_temperature",
        ),
        (
            {"adaptation": {"type": "udalm", "mlm_probability": 1.0}, "target_dataset_name": "x"},
            "mlm_probability",
        ),
        ({"adaptation": {"type": "udalm", "mlm_weight": -1}, "target_dataset_name": "x"}, "mlm_weight"),
        (
            {"adaptation": {"type": "mcc", "target_batch_norm": "maybe"}, "target_dataset_name": "x"},
            "`target_batch_norm` must be true or false",
        ),
        (
            {"adaptation": "dann", "target_dataset_name": "x", "prior_correction": "bbse"},
            "prior_correction: unknown",
        ),
        ({"prior_correction": "em"}, "prior_correction needs a target domain"),
        ({"adaptation": "dann", "target_dataset_name": "x", "prior_tolerance": 0}, "prior_tolerance"),
        (
            {
                "adaptation": "mcc",
                "target_dataset_name": "x",
                "multitask": {"tasks": [{"name": "a"}, {"name": "b"}]},
            },
            "adaptation `mcc` works on one classifier",
        ),
    ],
)
def test_bad_method_options(values, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe({**BASE, **values})


def test_model_batches_hold_only_what_the_model_takes(tiny_tokenizer, tiny_checkpoints):
    """DistilBERT takes no token_type_ids (the shared tiny tokenizer makes them): the pseudo-labelling and AdaBN
    passes must leave them out, as the Trainer does, and keep the rows in order."""
    from datasets import Dataset

    from hf_transfer.objectives.domain_adaptation.selection import model_batches, predict_logits

    texts = ["great value", "broke in a week", "fine", "not again", "loved it"]
    rows = Dataset.from_dict({**tiny_tokenizer(texts), "labels": [0, 1, 0, 1, 0], "domains": [1] * 5})
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints["distilbert"]).eval()
    batches = list(model_batches(model, rows, data_collator(tiny_tokenizer), batch_size=2))
    assert [len(b["input_ids"]) for b in batches] == [2, 2, 1]
    assert all(set(b) == {"input_ids", "attention_mask"} for b in batches)
    logits = predict_logits(model, rows, tiny_tokenizer, batch_size=2)
    with torch.no_grad():
        one = model(**tiny_tokenizer(["fine"], return_tensors="pt", return_token_type_ids=False)).logits
    torch.testing.assert_close(torch.tensor(logits[2:3]), one, rtol=1e-4, atol=1e-5)
