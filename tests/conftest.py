"""Shared fixtures: tiny random checkpoints built from configs (no downloads), tiny recipes, data files."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# fp32, as a launch with `--mixed_precision no` asks: exact-logit tests compare with stock fp32 reloads, and an unset
# `bf16` would otherwise autocast on a CPU with native bf16 (tests/test_precision.py covers that default)
os.environ.setdefault("ACCELERATE_MIXED_PRECISION", "no")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    BertConfig,
    DistilBertConfig,
    PreTrainedTokenizerFast,
    RobertaConfig,
)

from hf_transfer.data import load_builtin_dataset  # noqa: E402

# One quick epoch, no checkpoints or evaluation during training, every step logged: the tiny recipes' run keys.
FAST_RUN = {
    "num_train_epochs": 1,
    "learning_rate": 1e-3,
    "save_strategy": "no",
    "eval_strategy": "no",
    "logging_steps": 1,
    "disable_tqdm": True,
    "seed": 0,
}
# A few review snippets, short inputs: the tiny text recipes' data keys.
DANN_DOMAINS = {  # movies → amazon with DANN, the gap measured on 64 rows: a tiny domain-adaptation run's keys
    "dataset_name": "sentiment_domains",
    "dataset_config_name": "movies",
    "target_dataset_name": "sentiment_domains",
    "target_dataset_config_name": "amazon",
    "adaptation": {"type": "dann", "domain_gap_samples": 64},
}

SMALL_TEXT_DATA = {
    "dataset_name": "rotten_tomatoes_snippets",
    "max_train_samples": 64,
    "max_eval_samples": 32,
    "max_test_samples": 32,
    "max_length": 32,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 32,
}


def assert_same_logits(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Two copies of one model (trained in memory, reloaded from disk) give the same logits up to float rounding.
    Not bit for bit: CPU kernels choose SIMD paths by memory alignment and thread count (with one thread a
    reloaded MobileNetV2 differs by 3e-33), so exact equality holds on some machines only; a wrong or missing
    weight moves logits by orders of magnitude more than rtol 1e-5."""
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-8)


TEXT_ARCHITECTURES = ("bert", "roberta", "distilbert")
VISION_ARCHITECTURES = ("vit", "convnext")
ARCHITECTURES = TEXT_ARCHITECTURES + VISION_ARCHITECTURES

# Where things are in each tiny architecture (written out by hand, independent of hf_transfer's discovery).
LAYOUTS = {
    "bert": {
        "blocks": "bert.encoder.layer.{}.",
        "n": 3,
        "bottom": ("bert.embeddings.",),
        "top": ("bert.pooler.",),
        "head": ("classifier.",),
    },
    "roberta": {
        "blocks": "roberta.encoder.layer.{}.",
        "n": 3,
        "bottom": ("roberta.embeddings.",),
        "top": (),
        "head": ("classifier.",),
    },
    "distilbert": {
        "blocks": "distilbert.transformer.layer.{}.",
        "n": 3,
        "bottom": ("distilbert.embeddings.",),
        "top": (),
        "head": ("pre_classifier.", "classifier."),
    },
    "vit": {
        "blocks": "vit.layers.{}.",
        "n": 3,
        "bottom": ("vit.embeddings.",),
        "top": ("vit.layernorm.",),
        "head": ("classifier.",),
    },
    "convnext": {
        "blocks": "convnext.encoder.stages.{}.",
        "n": 3,
        "bottom": ("convnext.embeddings.",),
        "top": ("convnext.layernorm.",),
        "head": ("classifier.",),
    },
}


def tiny_vision_config(arch: str):
    from transformers import ConvNextConfig, ViTConfig

    if arch == "vit":
        return ViTConfig(
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=2,
            intermediate_size=37,
            image_size=32,
            patch_size=8,
            num_labels=3,
        )
    if arch == "convnext":
        return ConvNextConfig(
            hidden_sizes=[8, 16, 24], depths=[1, 1, 1], num_stages=3, image_size=32, num_labels=3
        )
    raise ValueError(arch)


def tiny_model(arch: str, vocab_size: int = 100):
    """A random tiny task model for any architecture of the table."""
    from transformers import AutoModelForImageClassification

    torch.manual_seed(0)
    if arch in TEXT_ARCHITECTURES:
        config = tiny_text_config(arch, vocab_size, 0)
        config.num_labels = 3
        return AutoModelForSequenceClassification.from_config(config)
    return AutoModelForImageClassification.from_config(tiny_vision_config(arch))


def tiny_backbone(arch: str, vocab_size: int = 100):
    """A random tiny backbone (``AutoModel``, no head) for any architecture of the table."""
    from transformers import AutoModel

    torch.manual_seed(0)
    if arch in TEXT_ARCHITECTURES:
        return AutoModel.from_config(tiny_text_config(arch, vocab_size, 0))
    return AutoModel.from_config(tiny_vision_config(arch))


def tiny_batch(arch: str, size: int = 4, seed: int = 0, vocab_size: int = 100) -> dict:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (size,), generator=generator)
    if arch in TEXT_ARCHITECTURES:
        ids = torch.randint(5, vocab_size, (size, 12), generator=generator)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    return {"pixel_values": torch.randn(size, 3, 32, 32, generator=generator), "labels": labels}


def tiny_text_config(arch: str, vocab_size: int, pad_token_id: int):
    common = {"vocab_size": vocab_size, "pad_token_id": pad_token_id, "max_position_embeddings": 128}
    if arch == "bert":
        return BertConfig(
            hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=37, **common
        )
    if arch == "roberta":
        return RobertaConfig(
            hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=37, **common
        )
    if arch == "distilbert":
        return DistilBertConfig(dim=32, n_layers=3, n_heads=2, hidden_dim=37, **common)
    raise ValueError(arch)


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> PreTrainedTokenizerFast:
    """A WordPiece tokenizer (vocab 800) trained on the built-in review snippets."""
    texts = load_builtin_dataset("rotten_tomatoes_snippets")["train"]["text"][:3000]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=800, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory, tiny_tokenizer) -> dict[str, Path]:
    """Random tiny checkpoints (a 2-label classifier saved with its tokenizer), one per text architecture."""
    root = tmp_path_factory.mktemp("tiny_checkpoints")
    paths = {}
    for arch in TEXT_ARCHITECTURES:
        torch.manual_seed(0)
        config = tiny_text_config(arch, len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
        model = AutoModelForSequenceClassification.from_config(config)
        path = root / arch
        model.save_pretrained(path)
        tiny_tokenizer.save_pretrained(path)
        paths[arch] = path
    return paths


@pytest.fixture(params=TEXT_ARCHITECTURES)
def text_arch(request) -> str:
    return request.param


@pytest.fixture
def tiny_recipe(tiny_checkpoints, tmp_path):
    """Build a small, fast recipe dict for an architecture; keyword arguments override its keys."""

    def build(arch: str = "bert", **overrides) -> dict:
        recipe = {
            "model_name_or_path": str(tiny_checkpoints[arch]),
            **SMALL_TEXT_DATA,
            **FAST_RUN,
            "output_dir": str(tmp_path / f"run-{arch}"),
        }
        recipe.update(overrides)
        return recipe

    return build


@pytest.fixture
def review_files(tmp_path) -> dict[str, Path]:
    """Small review files in every supported local format (columns: review, sentiment, extra)."""
    import pandas as pd

    rows = load_builtin_dataset("rotten_tomatoes_snippets")["validation"].select(range(60)).to_pandas()
    frame = pd.DataFrame({"review": rows["text"], "sentiment": rows["label"], "extra": range(len(rows))})
    files = {}
    for name, writer in (
        ("csv", lambda p: frame.to_csv(p, index=False)),
        ("tsv", lambda p: frame.to_csv(p, index=False, sep="\t")),
        ("jsonl", lambda p: frame.to_json(p, orient="records", lines=True)),
        ("parquet", lambda p: frame.to_parquet(p, index=False)),
    ):
        path = tmp_path / f"reviews.{name}"
        writer(path)
        files[name] = path
    return files


IMAGE_ARCHITECTURES = ("vit", "convnext", "mobilenet_v2")
IMAGE_CLASSES = ("red", "green", "blue")


def tiny_image_config(arch: str):
    """A tiny random image classifier config (32×32 inputs) for any image architecture."""
    from transformers import MobileNetV2Config

    if arch == "mobilenet_v2":
        return MobileNetV2Config(
            depth_multiplier=0.25,
            image_size=32,
            tf_padding=False,
            first_layer_is_expansion=True,
            num_labels=5,
        )
    return tiny_vision_config(arch)


def tiny_image_processor(arch: str, size: int = 32):
    """The image processor a checkpoint of ``arch`` would ship (ImageNet statistics), at a tiny size."""
    from transformers import ConvNextImageProcessorPil, MobileNetV2ImageProcessorPil, ViTImageProcessorPil

    stats = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
    if arch == "mobilenet_v2":
        return MobileNetV2ImageProcessorPil(
            size={"shortest_edge": round(size / 0.875)}, crop_size={"height": size, "width": size}, **stats
        )
    if arch == "convnext":
        return ConvNextImageProcessorPil(size={"shortest_edge": size}, crop_pct=0.875, **stats)
    return ViTImageProcessorPil(size={"height": size, "width": size}, **stats)


@pytest.fixture(scope="session")
def tiny_image_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Random tiny image classifiers with a 5-class head (like a pretrained head for other classes), saved with
    their image processors, one per image architecture."""
    from transformers import AutoModelForImageClassification

    root = tmp_path_factory.mktemp("tiny_image_checkpoints")
    paths = {}
    for arch in IMAGE_ARCHITECTURES:
        torch.manual_seed(0)
        config = tiny_image_config(arch)
        config.num_labels = 5
        model = AutoModelForImageClassification.from_config(config)
        path = root / arch
        model.save_pretrained(path)
        tiny_image_processor(arch).save_pretrained(path)
        paths[arch] = path
    return paths


def colour_image(label: int, seed: int, size: int = 20, mode: str = "RGB"):
    """A noisy square whose dominant colour channel is ``label`` (learnable from a few rows)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 90, (size, size, 3))
    pixels[..., label] += 150
    image = Image.fromarray(pixels.clip(0, 255).astype("uint8"))
    return image.convert(mode) if mode != "RGB" else image


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """A local ``imagefolder``: train / validation / test, one folder per class (red, green, blue), PNG files."""
    root = tmp_path_factory.mktemp("imagefolder")
    counts = {"train": 16, "validation": 6, "test": 6}
    for s, (split, per_class) in enumerate(counts.items()):
        for label, name in enumerate(IMAGE_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):  # a fixed seed per image: the same pixels in every process and run
                colour_image(label, seed=10_000 * s + 100 * label + i).save(folder / f"{i}.png")
    return root


@pytest.fixture
def tiny_image_recipe(tiny_image_checkpoints, image_folder, tmp_path):
    """A small, fast image recipe dict for an architecture; keyword arguments override its keys."""

    def build(arch: str = "vit", **overrides) -> dict:
        recipe = {
            "model_name_or_path": str(tiny_image_checkpoints[arch]),
            "dataset_name": str(image_folder),
            "per_device_train_batch_size": 8,
            "per_device_eval_batch_size": 16,
            **FAST_RUN,
            "output_dir": str(tmp_path / f"image-run-{arch}"),
        }
        recipe.update(overrides)
        return recipe

    return build
