"""Recipes: YAML files (plus CLI overrides) mapped to dataclasses by ``HfArgumentParser``.

A recipe is one flat mapping, as in ``transformers``' ``run_glue.py``; the keys are the fields of
:class:`ModelArguments`, :class:`DataArguments`, :class:`StrategyArguments` and
:class:`TransferTrainingArguments` (a ``transformers.TrainingArguments``). Only ``strategy`` is a nested
mapping, whose ``type`` picks a registered strategy. Unknown keys are errors that name the closest valid keys.

Example::

    >>> from hf_transfer import parse_recipe
    >>> recipe = parse_recipe({"model_name_or_path": "prajjwal1/bert-tiny", "dataset_name": "rotten_tomatoes_snippets",
    ...                        "output_dir": "/tmp/run"}, overrides=["--learning_rate", "1e-4"])
    >>> recipe.training.learning_rate
    0.0001
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import datetime
import json
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import HfArgumentParser, TrainingArguments

from .errors import HfTransferError, RecipeError, did_you_mean, unknown_keys
from .metrics import check_metric_names
from .strategies import StrategyConfig, build_strategy_config
from .typed_values import coerce, field_types

DEFAULT_RECIPE = "sentiment/minilm_full"
LAUNCH_CONFIG_DIRS = ("accelerate",)  # accelerate launch configs, shipped beside the recipes
# Shipped recipes: configs/ in a source checkout (or editable install), hf_transfer/recipes/ in a wheel.
_PACKAGED_RECIPES = Path(__file__).resolve().parent / "recipes"
RECIPES_DIR = (
    _PACKAGED_RECIPES if _PACKAGED_RECIPES.is_dir() else Path(__file__).resolve().parent.parent / "configs"
)


@dataclass
class ModelArguments:
    """Which checkpoint to start from."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Hub model id or local directory. Known ids resolve offline to installed packages "
            "(sentence-transformers/all-MiniLM-L6-v2 → the `offline` extra)."
        },
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer id or path, when it differs from the model."}
    )
    revision: str = field(
        default="main", metadata={"help": "Hub revision (branch, tag or commit) of the model."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where Hub downloads are cached."})
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "Allow custom modelling code from the Hub (only for repos you trust)."},
    )
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={
            "help": "Re-initialise head weights whose shape differs (e.g. a checkpoint with another label count)."
        },
    )
    pooling: str | None = field(
        default=None,
        metadata={
            "help": "Head input: `model` (the checkpoint's own classification head), `cls`, `pooler`, `mean`, "
            "`max`, or `auto` (a sentence-transformers checkpoint's 1_Pooling choice, else mean). Default: the "
            "strategy's (auto for feature_extraction, model otherwise)."
        },
    )

    def __post_init__(self):
        if self.pooling is not None and self.pooling not in ("model", "auto", "cls", "pooler", "mean", "max"):
            raise RecipeError(
                f"Unknown `pooling` {self.pooling!r}: use model, auto, cls, pooler, mean or max."
            )
        if not self.model_name_or_path:
            raise RecipeError(
                "`model_name_or_path` is required: a Hub id (e.g. sentence-transformers/all-MiniLM-L6-v2) or a "
                "local checkpoint directory."
            )


@dataclass
class DataArguments:
    """Where the data comes from and how it is mapped to model inputs."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "A built-in offline dataset (see `hf-transfer datasets`), a Hub dataset id or a local "
            "dataset directory. Leave empty when giving train_file."
        },
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Dataset configuration (e.g. `tweets` for sentiment_domains)."}
    )
    train_file: str | None = field(
        default=None, metadata={"help": "Local csv / tsv / json / jsonl / parquet file."}
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Local validation file (same formats)."}
    )
    test_file: str | None = field(default=None, metadata={"help": "Local test file (same formats)."})
    text_column: str = field(default="text", metadata={"help": "Column holding the input text."})
    text_pair_column: str | None = field(
        default=None, metadata={"help": "Second text column, for sentence-pair tasks (NLI, paraphrase)."}
    )
    label_column: str = field(default="label", metadata={"help": "Column holding the class label."})
    image_column: str = field(
        default="image", metadata={"help": "Column holding the image (image backbones only)."}
    )
    image_size: int | None = field(
        default=None,
        metadata={
            "help": "Square side of the model input in pixels (e.g. 96 to train fast on CPU); default: the image "
            "processor's own size."
        },
    )
    random_resized_crop_scale: list[float] | None = field(
        default=None,
        metadata={
            "help": "Train-time random resized crop: the area fraction range, e.g. [0.6, 1.0]; unset: off."
        },
    )
    horizontal_flip: bool = field(default=False, metadata={"help": "Train-time random horizontal flip."})
    color_jitter: float = field(
        default=0.0,
        metadata={
            "help": "Train-time brightness / contrast / saturation factors drawn from 1 ± this; 0: off."
        },
    )
    random_rotation: float = field(
        default=0.0, metadata={"help": "Train-time random rotation within ± this many degrees; 0: off."}
    )
    degrade: list[str] | None = field(
        default=None,
        metadata={
            "help": "Degrade every image (seeded, all splits): any of blur, low_light, noise, downsample, applied "
            "in order; e.g. [blur, low_light] for a blurry low-light domain."
        },
    )
    degrade_severity: int = field(default=3, metadata={"help": "Severity of `degrade`, 1 (mild) to 5."})
    validation_split_size: float = field(
        default=0.1,
        metadata={"help": "Fraction of train held out (seeded) when the data has no validation split."},
    )
    max_length: int = field(default=128, metadata={"help": "Tokens per input; longer inputs are truncated."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Subsample train (seeded) to this size."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Subsample validation to this size."}
    )
    max_test_samples: int | None = field(default=None, metadata={"help": "Subsample test to this size."})
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes for tokenisation (`datasets.map(num_proc=...)`)."}
    )
    file_encoding: str | None = field(
        default=None,
        metadata={
            "help": "Text encoding of local csv / tsv / json files when not UTF-8 (e.g. latin-1, cp1252)."
        },
    )
    drop_unlabelled_rows: bool = field(
        default=False,
        metadata={
            "help": "Drop rows whose label is missing (logged with the count) instead of stopping with their row "
            "numbers."
        },
    )

    def __post_init__(self):
        if not self.dataset_name and not self.train_file:
            raise RecipeError(
                "No data: set `dataset_name` (a built-in dataset such as rotten_tomatoes_snippets, a Hub id or a "
                "local dataset directory) or `train_file` (a local csv/json/jsonl/parquet file)."
            )
        if not 0 < self.validation_split_size < 1:
            raise RecipeError(f"`validation_split_size` must be in (0, 1), got {self.validation_split_size}.")
        if self.max_length < 1:
            raise RecipeError(f"`max_length` must be a positive number of tokens, got {self.max_length}.")
        if self.image_size is not None and self.image_size < 8:
            raise RecipeError(f"`image_size` must be at least 8 pixels, got {self.image_size}.")
        scale = self.random_resized_crop_scale
        if scale is not None and (len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1):
            raise RecipeError(
                f"`random_resized_crop_scale` must be two area fractions [low, high] with 0 < low <= high <= 1, "
                f"got {scale}."
            )
        if self.color_jitter < 0 or self.random_rotation < 0:
            raise RecipeError("`color_jitter` and `random_rotation` must be ≥ 0 (0 turns them off).")
        check_degrade(self.degrade, self.degrade_severity, "degrade")
        if self.file_encoding is not None:
            try:
                codecs.lookup(self.file_encoding)
            except LookupError:
                raise RecipeError(
                    f"Unknown `file_encoding` {self.file_encoding!r}: use a Python codec name such as utf-8, "
                    "latin-1 or cp1252."
                ) from None
        for name in ("max_train_samples", "max_eval_samples", "max_test_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise RecipeError(f"`{name}` must be a positive number of rows (or unset), got {value}.")


def check_degrade(kinds: list[str] | None, severity: int, key: str) -> None:
    """Raise a :class:`RecipeError` for an unknown degradation kind (naming the valid ones) or severity."""
    from .data.degrade import KINDS

    unknown = [kind for kind in kinds or () if kind not in KINDS]
    if unknown:
        raise RecipeError(
            f"Unknown `{key}` kind {unknown[0]!r}.{did_you_mean(unknown[0], KINDS)} Use any of {', '.join(KINDS)}."
        )
    if not 1 <= severity <= 5:
        raise RecipeError(f"`{key}_severity` must be 1 to 5, got {severity}.")


def json_spec(value: Any, key: str) -> Any:
    """A recipe block given on the command line as a JSON object (``'{"type": ...}'``) parsed; else unchanged."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise RecipeError(f"`{key}` is not valid JSON ({err}): {value.strip()!r}") from None
    return value


@dataclass
class StrategyArguments:
    """What trains. ``strategy`` is a type name or a mapping ``{type: NAME, <options of that type>}``."""

    strategy: dict | str | None = field(
        default="full",
        metadata={
            "help": "Transfer strategy: a registered type name (see `hf-transfer strategies`) or a mapping with "
            "`type` and the strategy's options; on the command line a JSON object, e.g. "
            '\'{"type": "feature_extraction"}\'.'
        },
    )
    strategy_config: StrategyConfig = field(init=False, repr=False)

    def __post_init__(self):
        spec = json_spec(self.strategy if self.strategy is not None else "full", "strategy")
        if isinstance(spec, str):
            spec = {"type": spec.strip()}
        if not isinstance(spec, dict):
            raise RecipeError(f"`strategy` must be a type name or a mapping with `type`, got {spec!r}.")
        self.strategy_config = build_strategy_config(spec)
        self.strategy = self.strategy_config.to_dict()


@dataclass
class TransferTrainingArguments(TrainingArguments):
    """``transformers.TrainingArguments`` with transfer-learning defaults and a few run options.

    Changed defaults: length-grouped batches (``train_sampling_strategy="group_by_length"``: padding is most
    of the cost on CPU), evaluation and checkpoints every epoch, one checkpoint kept, logging every 50 steps.
    """

    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "Where results go. Default: outputs/<recipe name>/<timestamp>. Never silently overwritten."
        },
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Replace a non-empty output directory (its contents are deleted first)."},
    )
    metrics: list[str] = field(
        default_factory=lambda: ["accuracy", "f1"],
        metadata={
            "help": "Metrics to report: accuracy, f1, precision, recall (optionally with _macro / _micro / "
            "_weighted), matthews_correlation, or any `evaluate` module name or path."
        },
    )
    layerwise_lr_decay: float | None = field(
        default=None,
        metadata={
            "help": "Discriminative learning rates: block i of n trains at lr * decay^(n - i), embeddings at "
            "lr * decay^(n + 1), head at lr (e.g. 0.8; unset: one learning rate)."
        },
    )
    save_predictions: bool = field(
        default=True,
        metadata={"help": "Write test-set predictions (label and score per row) to the output dir."},
    )
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={
            "help": "Sampler for training: 'group_by_length' (default: batches of similar length, less padding), "
            "'random', 'sequential' or 'batch_rebalance'.",
            "choices": ["random", "sequential", "group_by_length", "batch_rebalance"],
        },
    )
    eval_strategy: str = field(
        default="epoch", metadata={"help": "When to evaluate on validation: no, steps, epoch."}
    )
    save_strategy: str = field(
        default="epoch", metadata={"help": "When to checkpoint: no, steps, epoch, best."}
    )
    save_total_limit: int | None = field(
        default=1, metadata={"help": "Checkpoints kept (oldest deleted first)."}
    )
    logging_steps: float = field(
        default=50, metadata={"help": "Log every N steps (or a fraction of all steps)."}
    )
    hub_commit_message: str | None = field(
        default=None,
        metadata={
            "help": "Commit message of the upload when `push_to_hub: true` (default: 'Upload <run> with "
            "hf_transfer'). hf_transfer pushes once, after the run is saved, never checkpoints."
        },
    )

    def __post_init__(self):
        self._check_ranges()
        if self.layerwise_lr_decay is not None and not 0 < self.layerwise_lr_decay <= 1:
            raise RecipeError(f"`layerwise_lr_decay` must be in (0, 1], got {self.layerwise_lr_decay}.")
        if self.dataloader_pin_memory and not torch.cuda.is_available():
            self.dataloader_pin_memory = (
                False  # pinning needs an accelerator; torch warns on every loader otherwise
            )
        if not self.use_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 and not _has_accelerator():
            # `accelerate launch --multi_gpu --num_processes N` on a CPU-only machine: without `use_cpu` every
            # process would train alone as rank 0 (same output folder); with it they form one DDP group (gloo).
            self.use_cpu = True
        if not self.use_cpu and self.bf16 and not _has_accelerator():
            self.use_cpu = (
                True  # bf16 autocast on a CPU-only machine: transformers asks for `use_cpu` explicitly
            )
        super().__post_init__()

    def _check_ranges(self) -> None:
        """Values transformers would accept and then fail on (or silently train nothing with)."""
        if self.learning_rate <= 0:
            raise RecipeError(
                f"`learning_rate` must be > 0, got {self.learning_rate}; e.g. `learning_rate: 1e-4`."
            )
        for key in (
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
        ):
            if getattr(self, key) < 1:
                raise RecipeError(f"`{key}` must be at least 1, got {getattr(self, key)}.")
        if self.num_train_epochs <= 0 and self.max_steps <= 0:
            raise RecipeError(
                f"`num_train_epochs` is {self.num_train_epochs:g} and `max_steps` unset: nothing would train. Set "
                "`num_train_epochs` > 0 (e.g. 3) or `max_steps` > 0 (e.g. 500)."
            )
        if self.metrics is not None and not self.metrics:
            raise RecipeError("`metrics` is empty: list at least one, e.g. `metrics: [accuracy, f1]`.")
        check_metric_names(self.metrics or [])


def _has_accelerator() -> bool:
    if torch.cuda.is_available():
        return True
    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return bool((mps and mps.is_available()) or (xpu and xpu.is_available()))


@dataclass
class AdaptationArguments:
    """Domain adaptation: the recipe's data is the labelled source; the unlabelled target domain is set here."""

    adaptation: dict | str | None = field(
        default=None,
        metadata={
            "help": "Domain adaptation: an alignment name (dann, coral, mmd, source_only) or a mapping with `type` and "
            "options (domain_loss_weight, lambda_schedule, source_fraction, discriminator_*…); unset: none."
        },
    )
    target_dataset_name: str | None = field(
        default=None, metadata={"help": "The target domain: a built-in dataset, Hub id or local dataset dir."}
    )
    target_dataset_config_name: str | None = field(
        default=None, metadata={"help": "Config of the target dataset."}
    )
    target_train_file: str | None = field(
        default=None, metadata={"help": "Local target training file (unlabelled use)."}
    )
    target_test_file: str | None = field(
        default=None, metadata={"help": "Local target test file (labels for evaluation)."}
    )
    target_text_column: str | None = field(
        default=None, metadata={"help": "Target text column (default: text_column)."}
    )
    target_label_column: str | None = field(
        default=None,
        metadata={"help": "Target label column, used only for evaluation (default: label_column)."},
    )
    target_degrade: list[str] | None = field(
        default=None,
        metadata={
            "help": "Degrade the target's images (seeded): any of blur, low_light, noise, downsample, e.g. "
            "[blur, low_light] to adapt clean photos to blurry low-light ones (the target may be the source data)."
        },
    )
    target_degrade_severity: int = field(
        default=3, metadata={"help": "Severity of `target_degrade`, 1 (mild) to 5."}
    )
    adaptation_config: Any = field(init=False, repr=False, default=None)

    def __post_init__(self):
        from .adaptation.config import AdaptationConfig

        check_degrade(self.target_degrade, self.target_degrade_severity, "target_degrade")
        has_target = bool(self.target_dataset_name or self.target_train_file)
        if self.adaptation is None:
            if has_target:
                raise RecipeError(
                    "A target domain is set but no `adaptation`: add e.g. `adaptation: dann` (or coral, mmd, "
                    "source_only), or remove the target_* keys."
                )
            return
        self.adaptation_config = AdaptationConfig.from_spec(json_spec(self.adaptation, "adaptation"))
        self.adaptation = self.adaptation_config.to_dict()
        if not has_target:
            raise RecipeError(
                "`adaptation` needs a target domain: set `target_dataset_name` (e.g. sentiment_domains with "
                "target_dataset_config_name: amazon) or `target_train_file`."
            )


@dataclass
class MultiTaskArguments:
    """Multi-task learning: one shared backbone and a head per task (see ``hf_transfer.multitask.config``)."""

    multitask: dict | str | None = field(
        default=None,
        metadata={
            "help": "Multi-task learning: a mapping with `tasks` (each: name, kind, label_column, weight, metrics, and "
            "optionally its own dataset_name / train_file…), `sampling` (proportional, temperature, round_robin), "
            "`temperature`, `batching` and `loss_weighting` (fixed, uncertainty); unset: single task."
        },
    )
    multitask_config: Any = field(init=False, repr=False, default=None)

    def __post_init__(self):
        from .multitask.config import MultiTaskSettings

        if self.multitask is None:
            return
        self.multitask_config = MultiTaskSettings.from_spec(json_spec(self.multitask, "multitask"))
        self.multitask = self.multitask_config.to_dict()


ARGUMENT_CLASSES = (
    ModelArguments,
    DataArguments,
    StrategyArguments,
    AdaptationArguments,
    MultiTaskArguments,
    TransferTrainingArguments,
)


@dataclass
class Recipe:
    """A parsed recipe: one dataclass per stage, plus the key/values it was built from."""

    model: ModelArguments
    data: DataArguments
    strategy: StrategyArguments
    adaptation: AdaptationArguments
    multitask: MultiTaskArguments
    training: TransferTrainingArguments
    values: dict[str, Any]
    name: str = "recipe"
    default_output_dir: bool = (
        False  # output_dir was not given: outputs/<name>/<timestamp>, claimed with a suffix
    )

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe: every model/data/strategy field, plus the training keys that were set."""
        resolved: dict[str, Any] = {}
        for args in (self.model, self.data):
            resolved.update(dataclasses.asdict(args))
        resolved["strategy"] = self.strategy.strategy_config.to_dict()
        if self.adaptation.adaptation_config is not None:
            values = dataclasses.asdict(self.adaptation)
            values.pop("adaptation_config")
            resolved.update(values)
        if self.multitask.multitask_config is not None:
            resolved["multitask"] = self.multitask.multitask_config.to_dict()
        training_fields = {f.name for f in dataclasses.fields(TransferTrainingArguments)}
        for key, value in self.values.items():
            if key in training_fields and not key.endswith("_token"):  # secrets (hub_token) are never written
                resolved[key] = _plain(value)
        resolved["output_dir"] = self.training.output_dir
        return resolved

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))


def _plain(value: Any) -> Any:
    """A YAML-safe copy of a recipe value (enums to their values, tuples to lists)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def field_names() -> dict[str, type]:
    """Every valid recipe key, mapped to the dataclass that owns it."""
    names: dict[str, type] = {}
    for cls in ARGUMENT_CLASSES:
        for f in dataclasses.fields(cls):
            if f.init:
                names[f.name] = cls
    return names


def argument_parser() -> HfArgumentParser:
    """The parser of every recipe field. Abbreviated options are refused: `--num_train_epoch` is a typo."""
    return HfArgumentParser(ARGUMENT_CLASSES, allow_abbrev=False)


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """Parse ``--key value`` overrides into a dict holding only the keys given, typed by HfArgumentParser."""
    parser = argument_parser()
    for action in parser._actions:
        if action.dest != "help":
            action.default = argparse.SUPPRESS
            action.required = False
    namespace, unknown = parser.parse_known_args(args)
    if unknown:
        options = [a for a in unknown if a.startswith("-")] or unknown
        key = options[0].lstrip("-").replace("-", "_").split("=")[0]
        raise RecipeError(
            f"Unknown command-line option(s) {' '.join(options)}.{did_you_mean(key, field_names())} "
            "Run `hf-transfer train --help` for every option."
        )
    return vars(namespace)


def shipped_recipes() -> list[Path]:
    """The recipe files under ``configs/`` (not the ``accelerate/`` launch configs beside them)."""
    return sorted(
        p
        for p in RECIPES_DIR.glob("**/*.yaml")
        if p.relative_to(RECIPES_DIR).parts[0] not in LAUNCH_CONFIG_DIRS
    )


def resolve_recipe_path(recipe: str | Path) -> Path:
    """A recipe file path, or a name under ``configs/`` (``sentiment/minilm_full``) resolved to its file."""
    path = Path(recipe)
    if path.is_file():
        return path
    for candidate in (RECIPES_DIR / recipe, RECIPES_DIR / f"{recipe}.yaml"):
        if candidate.is_file() and candidate in shipped_recipes():
            return candidate
        if candidate.is_file():
            raise RecipeError(
                f"{recipe!r} is an accelerate launch config, not a recipe: pass it to `accelerate launch "
                f"--config_file {candidate}` and give a recipe after the script."
            )
    known = sorted(str(p.relative_to(RECIPES_DIR).with_suffix("")) for p in shipped_recipes())
    raise RecipeError(
        f"Recipe {str(recipe)!r} not found: not a file, nor a recipe name under {RECIPES_DIR}."
        f"{did_you_mean(str(recipe), known)} Shipped recipes: {', '.join(known) or 'none'}."
    )


def recipe_name(path: Path) -> str:
    """``sentiment-minilm_full`` for a shipped recipe (its path under configs/), else the file's stem."""
    path = path.resolve()
    if RECIPES_DIR in path.parents:
        return "-".join(path.relative_to(RECIPES_DIR).with_suffix("").parts)
    return path.stem


def load_recipe_file(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RecipeError(
            f"Recipe {path} is not UTF-8 text (byte {err.object[err.start : err.start + 1]!r} at position {err.start}): "
            "re-save it as UTF-8."
        ) from None
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"Recipe {path} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(values, dict):
        raise RecipeError(f"Recipe {path} must be a mapping of keys to values, got {type(values).__name__}.")
    return values


def check_keys(values: dict[str, Any], source: str) -> None:
    hints = unknown_keys(values, field_names())
    if hints:
        raise RecipeError(
            f"Unknown recipe key(s) in {source}: {hints} Valid keys are the fields of ModelArguments, "
            "DataArguments, StrategyArguments and TrainingArguments (`hf-transfer train --help` lists them)."
        )


def typed_recipe_values(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Every recipe value converted to its field's declared type (``"1e-4"`` → 0.0001; see
    :mod:`hf_transfer.typed_values`); a value that does not convert is a :class:`RecipeError` naming the key."""
    owners = field_names()
    return {key: coerce(value, field_types(owners[key])[key], key, source) for key, value in values.items()}


def default_output_dir(name: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(Path("outputs") / name / stamp)


def parse_recipe(
    recipe: str | Path | dict[str, Any] | None = None, overrides: list[str] | dict[str, Any] | None = None
) -> Recipe:
    """Build a :class:`Recipe` from a YAML path, a recipe name under ``configs/`` or a dict, plus overrides.

    ``overrides`` are CLI-style (``["--learning_rate", "1e-4"]``) or a dict; they win over the recipe.
    Raises :class:`~hf_transfer.errors.RecipeError` for unknown keys (with the closest valid names) and for
    invalid values.
    """
    if recipe is None:
        recipe = DEFAULT_RECIPE
    if isinstance(recipe, dict):
        values, source, name = dict(recipe), "the recipe dict", "recipe"
    else:
        path = resolve_recipe_path(recipe)
        values, source = load_recipe_file(path), str(path)
        name = recipe_name(path)
    check_keys(values, source)
    if isinstance(overrides, dict):
        check_keys(overrides, "the overrides")
        values.update(overrides)
    elif overrides:
        values.update(parse_overrides(list(overrides)))
    values = typed_recipe_values(values, source)
    defaulted = not values.get("output_dir")
    if defaulted:
        values["output_dir"] = default_output_dir(name)
    try:
        model, data, strategy, adaptation, multitask, training = argument_parser().parse_dict(
            values, allow_extra_keys=False
        )
    except HfTransferError:
        raise
    except (TypeError, ValueError) as err:
        raise RecipeError(f"Invalid recipe value in {source}: {err}") from None
    if multitask.multitask_config is not None and adaptation.adaptation_config is not None:
        raise RecipeError(
            f"{source}: `multitask` and `adaptation` cannot be combined yet; train one of them per recipe."
        )
    if getattr(strategy.strategy_config, "cache_features", False):
        other = "adaptation" if adaptation.adaptation_config is not None else "multitask"
        if adaptation.adaptation_config is not None or multitask.multitask_config is not None:
            raise RecipeError(
                f"{source}: `cache_features` cannot be combined with `{other}` (it needs the backbone in the "
                "training loop): drop `cache_features: true` from the feature_extraction strategy."
            )
    return Recipe(
        model,
        data,
        strategy,
        adaptation,
        multitask,
        training,
        values=values,
        name=name,
        default_output_dir=defaulted,
    )
