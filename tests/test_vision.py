"""Vision: image data (imagefolder, built-in digits / mnist_5k, degraded domains), the lazy image transforms,
every strategy on tiny ViT / ConvNeXt / MobileNetV2, the DANN and multi-task wrappers on images, export and
reload with equal logits, prediction and evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from conftest import IMAGE_ARCHITECTURES, assert_same_logits, colour_image, tiny_image_processor
from PIL import Image
from transformers import AutoModel, AutoModelForImageClassification

import hf_transfer
from hf_transfer import train
from hf_transfer.config import DataArguments
from hf_transfer.data import ImageTransform, load_raw_datasets
from hf_transfer.data.images import Augmentation, crop_fraction
from hf_transfer.errors import DataError, RecipeError
from hf_transfer.modeling.batchnorm import keep_frozen_batchnorm_in_eval, reset_batchnorm_momentum
from hf_transfer.wrappers import MultiTaskModel, load_trained_classifier

# The last block of each tiny architecture, for the `patterns` strategy.
LAST_BLOCK = {
    "vit": "vit.layers.2.*",
    "convnext": "convnext.encoder.stages.2.*",
    "mobilenet_v2": "mobilenet_v2.layer.15.*",
}
STRATEGIES = {
    "full": "full",
    "feature_extraction": "feature_extraction",
    "top_layers": {"type": "top_layers", "num_layers": 1},
    "patterns": None,  # filled per architecture
    "lora": {"type": "peft", "method": "lora", "r": 4, "top_layers": 2},
}
PREFIXES = ("backbone.", "vit.", "convnext.", "mobilenet_v2.")


def pixel_batch(processor, seed: int = 0) -> torch.Tensor:
    images = [colour_image(i % 3, seed=seed + i) for i in range(4)]
    return processor(images, return_tensors="pt")["pixel_values"]


def logits_of(model, pixels: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(pixel_values=pixels).logits


def backbone_state(model) -> dict[str, torch.Tensor]:
    """Backbone parameters and buffers of a (wrapped) model, keyed as in ``AutoModel``'s state dict."""
    state = {}
    for name, tensor in model.state_dict().items():
        plain = name.replace("base_model.model.", "").replace(".base_layer", "")
        for prefix in PREFIXES:
            if plain.startswith(prefix):
                state[plain[len(prefix) :]] = tensor.detach().clone()
                break
    return state


def trainable_backbone_names(model) -> set[str]:
    names = set()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            plain = name.replace("base_model.model.", "").replace(".base_layer", "")
            names |= {plain[len(p) :] for p in PREFIXES if plain.startswith(p)}
    return names


@pytest.mark.parametrize("strategy_name", list(STRATEGIES))
@pytest.mark.parametrize("arch", IMAGE_ARCHITECTURES)
def test_strategies_train_only_what_they_select_and_reload_with_equal_logits(
    tiny_image_recipe, tiny_image_checkpoints, arch, strategy_name
):
    strategy = STRATEGIES[strategy_name] or {"type": "patterns", "include": [LAST_BLOCK[arch]]}
    result = train(tiny_image_recipe(arch, strategy=strategy, max_steps=2))
    model = result.trainer.model
    backbone, info = AutoModel.from_pretrained(tiny_image_checkpoints[arch], output_loading_info=True)
    original = {k: v for k, v in backbone.state_dict().items() if k not in info["missing_keys"]}
    trained = backbone_state(model)
    trainable = trainable_backbone_names(model) & set(original)  # adapters are new, not pretrained weights
    statistics = {n for n in original if n.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    training_modules = {n.rsplit(".", 1)[0] for n in trainable}
    # Frozen: every pretrained weight that does not train, and the running statistics of frozen batch norms.
    frozen = [
        n
        for n in original
        if n in trained
        and n not in trainable
        and not (n in statistics and n.rsplit(".", 1)[0] in training_modules)
    ]
    assert frozen or strategy_name == "full"
    for name in frozen:
        assert torch.equal(original[name], trained[name]), f"{name} moved although frozen"
    if strategy_name in ("feature_extraction", "lora"):
        assert not trainable  # the backbone's own weights never train
    else:
        assert any(not torch.equal(original[n], trained[n]) for n in trainable)
    if arch == "mobilenet_v2" and strategy_name != "full":
        assert statistics & set(frozen)  # batch-norm statistics were among the checked, unchanged tensors

    pixels = pixel_batch(tiny_image_processor(arch))
    reloaded = load_trained_classifier(result.output_dir)
    assert_same_logits(logits_of(reloaded, pixels), logits_of(model, pixels))
    if strategy_name in ("full", "top_layers", "patterns"):  # a stock folder: no hf_transfer class involved
        stock = AutoModelForImageClassification.from_pretrained(result.output_dir)
        assert type(stock).__module__.startswith("transformers.models.")
        assert_same_logits(logits_of(stock, pixels), logits_of(model, pixels))


def test_imagefolder_labels_come_from_the_folder_names(image_folder):
    raw = load_raw_datasets(DataArguments(dataset_name=str(image_folder)))
    assert set(raw) == {"train", "validation", "test"}
    assert raw["train"].features["label"].names == ["blue", "green", "red"]
    assert isinstance(raw["train"][0]["image"], Image.Image) and len(raw["train"]) == 48


def test_a_run_writes_image_predictions_a_card_and_evaluates_again(tiny_image_recipe):
    result = train(tiny_image_recipe("convnext", num_train_epochs=3))
    out = result.output_dir
    assert (out / "preprocessor_config.json").is_file()
    rows = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    assert len(rows) == 18 and rows[0]["row"] == 0 and rows[0]["label"] in ("blue", "green", "red")
    card = (out / "README.md").read_text()
    assert "pipeline_tag: image-classification" in card and "An image classifier" in card
    assert hf_transfer.evaluate(out)["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    path = out / "red.png"
    colour_image(2, seed=99).save(path)
    by_path, by_image = hf_transfer.predict(out, [str(path), colour_image(0, seed=7)])
    assert by_path["image"] == str(path) and by_image["image"] == 1
    assert {by_path["label"], by_image["label"]} <= {"blue", "green", "red"}


def test_predict_cli_labels_image_files_and_refuses_text_for_an_image_model(
    tiny_image_recipe, tmp_path, capsys
):
    from hf_transfer.cli.main import main

    out = train(tiny_image_recipe("vit", max_steps=2)).output_dir
    paths = []
    for label in range(3):
        paths.append(tmp_path / f"{label}.png")
        colour_image(label, seed=label).save(paths[-1])
    capsys.readouterr()
    assert main(["predict", str(out), "--image", *map(str, paths), "--top_k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(
        line.split("\t")[2] == str(p) for line, p in zip(lines, paths, strict=True)
    )
    assert main(["predict", str(out), "--text", "a red square"]) == 2
    assert "is an image model: pass --image" in capsys.readouterr().err


def test_grayscale_images_feed_an_rgb_backbone_and_a_one_channel_one():
    gray = colour_image(0, seed=1, size=40, mode="L")
    rgb_processor = tiny_image_processor("vit")
    pixels = ImageTransform(rgb_processor)({"image": [gray]})["pixel_values"][0]
    assert pixels.shape == (3, 32, 32)
    torch.testing.assert_close(pixels[0] * 0.229 + 0.485, pixels[1] * 0.224 + 0.456)  # one plane, three times
    one_channel = tiny_image_processor("vit")
    one_channel.image_mean, one_channel.image_std = [0.5], [0.5]
    pixels = ImageTransform(one_channel, image_size=16)({"image": [colour_image(1, seed=2)]})["pixel_values"][
        0
    ]
    assert pixels.shape == (1, 16, 16)


@pytest.mark.parametrize("arch", IMAGE_ARCHITECTURES)
def test_eval_transform_is_the_processor_itself_unless_a_size_is_set(arch):
    processor = tiny_image_processor(arch)
    images = [colour_image(i, seed=i, size=50) for i in range(3)]
    ours = torch.stack(ImageTransform(processor)({"image": images})["pixel_values"])
    assert torch.equal(ours, processor(images, return_tensors="pt")["pixel_values"])
    sized = ImageTransform(processor, image_size=24)({"image": images})["pixel_values"]
    assert sized[0].shape == (3, 24, 24)
    again = ImageTransform(processor, image_size=24)({"image": images})["pixel_values"]
    assert all(torch.equal(a, b) for a, b in zip(sized, again, strict=True))


def test_crop_fraction_follows_the_processor():
    assert crop_fraction(tiny_image_processor("mobilenet_v2")) == pytest.approx(32 / 37)
    assert crop_fraction(tiny_image_processor("convnext")) == 0.875
    assert crop_fraction(tiny_image_processor("vit")) == 1.0


def test_augmentation_draws_fresh_views_of_the_right_size_and_eval_has_none():
    processor = tiny_image_processor("vit")
    image = Image.fromarray(np.tile(np.arange(40, dtype=np.uint8) * 6, (40, 1)))  # left dark, right bright
    augmentation = Augmentation(
        random_resized_crop_scale=(0.3, 1.0), horizontal_flip=True, color_jitter=0.4, random_rotation=15
    )
    transform = ImageTransform(processor, image_size=20, augmentation=augmentation)
    torch.manual_seed(0)
    views = [transform({"image": [image]})["pixel_values"][0] for _ in range(12)]
    assert all(v.shape == (3, 20, 20) for v in views)
    assert len({v.sum().item() for v in views}) == 12  # every draw differs
    flips = ImageTransform(processor, image_size=20, augmentation=Augmentation(horizontal_flip=True))
    slopes = {
        bool((v[0, :, -1] > v[0, :, 0]).all())
        for v in (flips({"image": [image]})["pixel_values"][0] for _ in range(20))
    }
    assert slopes == {True, False}  # both orientations seen
    evaluation = transform.eval_view()
    first, second = (evaluation({"image": [image]})["pixel_values"][0] for _ in range(2))
    assert torch.equal(first, second)
    torch.manual_seed(0)
    assert torch.equal(views[0], (transform({"image": [image]})["pixel_values"][0]))  # seeded by torch's RNG


def test_training_rows_are_augmented_and_evaluation_rows_are_not(tiny_image_recipe):
    from hf_transfer.training import prepare_run

    recipe = hf_transfer.parse_recipe(
        tiny_image_recipe("vit", random_resized_crop_scale=[0.2, 0.5], horizontal_flip=True)
    )
    run = prepare_run(recipe)
    train_rows, test_rows = run.encoded["train"], run.encoded["test"]
    assert not torch.equal(train_rows[0]["pixel_values"], train_rows[0]["pixel_values"])
    assert torch.equal(test_rows[0]["pixel_values"], test_rows[0]["pixel_values"])
    assert set(train_rows[0]) == {"pixel_values", "labels"}


def test_a_missing_image_column_lists_the_columns(tiny_image_recipe):
    with pytest.raises(
        DataError, match=r"Column 'picture' \(the image_column\).*Its columns are: image, label"
    ):
        train(tiny_image_recipe("vit", image_column="picture"))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"random_resized_crop_scale": [0.9, 0.5]}, "random_resized_crop_scale"),
        ({"degrade": ["fog"]}, "Unknown `degrade` kind 'fog'.*blur, low_light, noise, downsample"),
        ({"degrade": ["blur"], "degrade_severity": 7}, "degrade_severity"),
        ({"image_size": 4}, "image_size"),
        ({"color_jitter": -1}, "color_jitter"),
    ],
)
def test_bad_image_options_are_recipe_errors(tiny_image_recipe, values, message):
    with pytest.raises(RecipeError, match=message):
        hf_transfer.parse_recipe(tiny_image_recipe("vit", **values))


def test_degraded_domains_are_deterministic_and_darker():
    clean = load_raw_datasets(DataArguments(dataset_name="mnist_5k", max_test_samples=20), seed=5)["test"]
    args = DataArguments(
        dataset_name="mnist_5k", max_test_samples=20, degrade=["blur", "low_light"], degrade_severity=3
    )
    dark, again = (load_raw_datasets(args, seed=5)["test"] for _ in range(2))
    other_seed = load_raw_datasets(
        DataArguments(dataset_name="mnist_5k", max_test_samples=20, degrade=["noise"]), seed=6
    )["test"]
    assert clean["label"] == dark["label"]
    means = [np.asarray(image, dtype=float).mean() for image in (clean[0]["image"], dark[0]["image"])]
    assert means[1] < 0.75 * means[0]
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(dark["image"], again["image"], strict=True)
    )
    assert dark[0]["image"].mode == "L" and other_seed[0]["image"].size == (28, 28)


@pytest.mark.parametrize("arch", IMAGE_ARCHITECTURES)
def test_dann_on_digits_to_mnist_exports_a_stock_image_classifier(tiny_image_recipe, arch):
    result = train(
        tiny_image_recipe(
            arch,
            dataset_name="digits",
            image_size=32,
            max_train_samples=48,
            max_eval_samples=16,
            max_test_samples=16,
            adaptation={"type": "dann", "domain_gap_samples": 24},
            target_dataset_name="mnist_5k",
            max_steps=3,
        )
    )
    metrics = result.metrics
    assert 0 <= metrics["target_test"]["accuracy"] <= 1 and metrics["labels"] == [str(d) for d in range(10)]
    report = metrics["domain_adaptation"]
    assert report["target_rows"]["train"] == 4000
    assert report["proxy_a_distance_before"] > 0.5  # 8×8 digits upscaled vs MNIST: far apart before training
    exported = AutoModelForImageClassification.from_pretrained(result.output_dir)
    task_model = result.trainer.model.task_model
    pixels = ImageTransform(tiny_image_processor(arch), image_size=32)(
        {"image": [colour_image(i % 3, seed=i) for i in range(4)]}
    )["pixel_values"]
    pixels = torch.stack(pixels)
    assert_same_logits(logits_of(exported, pixels), logits_of(task_model, pixels))


def test_dann_adapts_clean_mnist_to_its_degraded_self(tiny_image_recipe):
    result = train(
        tiny_image_recipe(
            "convnext",
            dataset_name="mnist_5k",
            max_train_samples=48,
            max_eval_samples=16,
            max_test_samples=16,
            adaptation="dann",
            target_dataset_name="mnist_5k",
            target_degrade=["blur", "low_light"],
            target_degrade_severity=4,
            max_steps=2,
        )
    )
    assert yaml.safe_load((result.output_dir / "recipe.yaml").read_text())["target_degrade"] == [
        "blur",
        "low_light",
    ]
    report = result.metrics["domain_adaptation"]
    # the target really is the degraded domain: a linear probe tells it from the clean source at once (the same
    # rows undegraded would be indistinguishable: a proxy A-distance of 0)
    assert report["proxy_a_distance_before"] >= 1.0
    logged = [e for e in result.trainer.state.log_history if "domain_loss" in e]
    assert logged and all(
        e["domain_loss"] > 0 for e in logged
    )  # the discriminator was trained on both domains
    assert result.metrics["target_test"]["accuracy"] != result.metrics["test"]["accuracy"] or (
        result.metrics["target_test"]["loss"] != result.metrics["test"]["loss"]
    )  # scored on the degraded test images, not the clean ones


def test_target_degrade_needs_an_adaptation(tiny_image_recipe):
    with pytest.raises(RecipeError, match="Unknown `target_degrade` kind 'smear'"):
        hf_transfer.parse_recipe(
            tiny_image_recipe(
                "vit", adaptation="dann", target_dataset_name="mnist_5k", target_degrade=["smear"]
            )
        )


MNIST_TASKS = {
    "tasks": [
        {"name": "digit", "label_column": "digit"},
        {"name": "parity", "label_column": "parity"},
        {"name": "at_least_5", "label_column": "at_least_5"},
    ]
}


@pytest.mark.parametrize("arch", IMAGE_ARCHITECTURES)
def test_multitask_on_mnist_predicts_every_task_and_reloads(tiny_image_recipe, arch):
    result = train(
        tiny_image_recipe(
            arch,
            dataset_name="mnist_5k",
            dataset_config_name="multitask",
            max_train_samples=48,
            max_eval_samples=16,
            max_test_samples=16,
            multitask=MNIST_TASKS,
            max_steps=2,
        )
    )
    metrics = result.metrics["test"]
    assert {"digit_accuracy", "parity_accuracy", "at_least_5_accuracy", "mean_accuracy"} <= set(metrics)
    reloaded = AutoModel.from_pretrained(result.output_dir)
    assert isinstance(reloaded, MultiTaskModel)
    pixels = pixel_batch(tiny_image_processor(arch))
    assert_same_logits(logits_of(reloaded, pixels), logits_of(result.trainer.model, pixels))
    prediction = hf_transfer.predict(result.output_dir, [colour_image(0, seed=3).convert("L")])[0]
    assert prediction["image"] == 0 and prediction["parity"]["label"] in ("even", "odd")
    assert prediction["digit"]["label"] in [str(d) for d in range(10)]


def test_cached_features_train_a_head_on_images(tiny_image_recipe):
    recipe = tiny_image_recipe(
        "mobilenet_v2",
        strategy={"type": "feature_extraction", "cache_features": True},
        horizontal_flip=True,  # ignored for the one-off extraction: features are of the plain view
        num_train_epochs=2,
    )
    result = train(recipe)
    assert (
        result.metrics["feature_cache"]["feature_size"] == 1280
    )  # MobileNetV2's last 1×1 conv (fine-grained)
    assert 0 <= result.metrics["test"]["accuracy"] <= 1


def test_batchnorm_momentum_is_reset_and_frozen_statistics_stay_put():
    config = AutoModelForImageClassification.from_config
    from conftest import tiny_image_config

    model = config(tiny_image_config("mobilenet_v2"))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms[0].momentum == pytest.approx(0.997)  # transformers' TensorFlow-style value
    assert reset_batchnorm_momentum(model) == len(norms) and norms[0].momentum == 0.1
    for parameter in model.mobilenet_v2.parameters():
        parameter.requires_grad_(False)
    assert keep_frozen_batchnorm_in_eval(model) == len(norms)
    before = norms[0].running_mean.clone()
    model.train()
    model(pixel_values=torch.randn(4, 3, 32, 32) * 3 + 2)
    assert torch.equal(norms[0].running_mean, before)
    for parameter in norms[0].parameters():
        parameter.requires_grad_(True)  # unfrozen (as gradual unfreezing would): batch statistics again
    model.train()
    model(pixel_values=torch.randn(4, 3, 32, 32) * 3 + 2)
    assert not torch.equal(norms[0].running_mean, before)
