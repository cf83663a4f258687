"""The recipe's argument dataclasses: which checkpoint, which data, what trains, how training runs.

Each field is one recipe key (``metadata={"help": ...}`` is its ``--help`` text) and each dataclass validates its
values in ``__post_init__``, raising :class:`~hf_transfer.errors.RecipeError` with the fix. Objectives add their own
argument dataclasses (``target_*`` for domain adaptation, ``multitask``) from their modules; stages add ``stages``.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import TrainingArguments

from ..data.degrade import KINDS
from ..errors import RecipeError, did_you_mean
from ..metrics import check_metric_names
from ..strategies import StrategyConfig, build_strategy_config
from ..wrappers.class_weighting import check_class_weight_spec
from .precision import default_bf16, has_accelerator


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
    eval_files: dict | str | None = field(
        default=None,
        metadata={
            "help": "More evaluation sets, by name: {name: file path} or {name: {dataset_name: ..., "
            "dataset_config_name: ..., split: test}}, with the columns of the training data. Each is scored at "
            "every evaluation and at the end (metrics.json `eval_sets`, the card); `metric_for_best_model: "
            "<name>_<metric>` chooses checkpoints on one (default: validation). On the command line a JSON object."
        },
    )
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
        self.eval_files = check_eval_files(json_spec(self.eval_files, "eval_files"))
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
    unknown = [kind for kind in kinds or () if kind not in KINDS]
    if unknown:
        raise RecipeError(
            f"Unknown `{key}` kind {unknown[0]!r}.{did_you_mean(unknown[0], KINDS)} Use any of {', '.join(KINDS)}."
        )
    if not 1 <= severity <= 5:
        raise RecipeError(f"`{key}_severity` must be 1 to 5, got {severity}.")


RESERVED_SPLITS = ("train", "validation", "test", "target_test")
EVAL_SET_KEYS = ("dataset_name", "dataset_config_name", "split")


def check_eval_files(spec: Any) -> dict[str, Any] | None:
    """``eval_files``: a mapping of set names to a file path or ``{dataset_name, dataset_config_name, split}``."""
    if spec is None:
        return None
    example = "e.g. `eval_files: {amazon: data/amazon_test.csv}`"
    if not isinstance(spec, dict) or not spec:
        raise RecipeError(f"`eval_files` must be a non-empty mapping of names to files, got {spec!r}; {example}.")
    for name, source in spec.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(name)) or name in RESERVED_SPLITS:
            raise RecipeError(
                f"`eval_files` name {name!r} must be a word (letters, digits, _) other than "
                f"{', '.join(RESERVED_SPLITS)}: it names the set in metrics (`{name}_accuracy`); {example}."
            )
        if isinstance(source, dict):
            unknown = [key for key in source if key not in EVAL_SET_KEYS]
            if unknown or not source.get("dataset_name"):
                raise RecipeError(
                    f"`eval_files.{name}` as a mapping takes dataset_name (required), dataset_config_name and "
                    f"split (default test){f'; not {unknown}' if unknown else ''}."
                )
        elif not isinstance(source, str) or not source:
            raise RecipeError(f"`eval_files.{name}` must be a file path or a mapping with dataset_name; {example}.")
    return {str(name): source for name, source in spec.items()}


def json_spec(value: Any, key: str) -> Any:
    """A recipe block given on the command line as JSON (``'{"type": ...}'``, ``'[...]'``) parsed; else unchanged."""
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
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
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "Stop when the validation `metric_for_best_model` (default: loss) has not improved for this "
            "many evaluations (transformers' EarlyStoppingCallback); the best checkpoint is loaded at the end "
            "(`load_best_model_at_end` is switched on). Needs evaluations: eval_strategy epoch or steps."
        },
    )
    early_stopping_threshold: float = field(
        default=0.0,
        metadata={"help": "How much better than the best so far an evaluation must be to count as improving."},
    )
    class_weight: dict | str | None = field(
        default=None,
        metadata={
            "help": "Weighted loss for imbalanced labels: `balanced` (w_c = n / (k · n_c) from the training "
            "rows) or a mapping {label: weight} (others 1); for multi-task, `balanced` or {task: balanced | "
            "{label: weight}}. Reported in metrics.json and the card. On the command line a JSON object."
        },
    )

    bf16: bool | None = field(
        default=None,
        metadata={
            "help": "bf16 mixed precision (autocast). Unset: on for a CPU run on a CPU with native bf16 "
            "(AVX512-BF16 or AMX: 1.4x faster at the same accuracy, docs/benchmarks.md), unless `accelerate "
            "launch --mixed_precision` decides; off on GPUs and other CPUs. metrics.json records the choice."
        },
    )

    def __post_init__(self):
        self._check_ranges()
        if self.bf16 is None:
            self.bf16, self.precision_rule = default_bf16(self.use_cpu, self.fp16)
        else:
            self.precision_rule = f"{'on' if self.bf16 else 'off'}: bf16 is set"
        self.class_weight = json_spec(self.class_weight, "class_weight")
        check_class_weight_spec(self.class_weight)
        self._check_early_stopping()
        if self.layerwise_lr_decay is not None and not 0 < self.layerwise_lr_decay <= 1:
            raise RecipeError(f"`layerwise_lr_decay` must be in (0, 1], got {self.layerwise_lr_decay}.")
        if self.dataloader_pin_memory and not torch.cuda.is_available():
            self.dataloader_pin_memory = (
                False  # pinning needs an accelerator; torch warns on every loader otherwise
            )
        if not self.use_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 and not has_accelerator():
            # `accelerate launch --multi_gpu --num_processes N` on a CPU-only machine: without `use_cpu` every
            # process would train alone as rank 0 (same output folder); with it they form one DDP group (gloo).
            self.use_cpu = True
        if not self.use_cpu and self.bf16 and not has_accelerator():
            self.use_cpu = (
                True  # bf16 autocast on a CPU-only machine: transformers asks for `use_cpu` explicitly
            )
        super().__post_init__()

    def _check_early_stopping(self) -> None:
        """Early stopping needs evaluations and a checkpoint at each of them (the best one is loaded at the end)."""
        if self.early_stopping_patience is None:
            return
        if self.early_stopping_patience < 1:
            raise RecipeError(
                f"`early_stopping_patience` must be at least 1 (evaluations without improvement), got "
                f"{self.early_stopping_patience}."
            )
        eval_strategy, save_strategy = str(_value(self.eval_strategy)), str(_value(self.save_strategy))
        if eval_strategy == "no":
            raise RecipeError(
                "`early_stopping_patience` needs evaluations, but `eval_strategy` is no: set `eval_strategy: "
                "epoch` (or steps with `eval_steps`)."
            )
        if save_strategy not in (eval_strategy, "best"):
            raise RecipeError(
                f"`early_stopping_patience` loads the best checkpoint at the end, so checkpoints must follow the "
                f"evaluations: `save_strategy` is {save_strategy} and `eval_strategy` {eval_strategy}. Set "
                f"`save_strategy: {eval_strategy}`."
            )
        self.load_best_model_at_end = True

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


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


@dataclass
class ObjectiveArguments:
    """Which task objective a run trains (see ``hf-transfer objectives``); wrappers such as domain adaptation are
    switched on by their own block (``adaptation:``)."""

    objective: str | None = field(
        default=None,
        metadata={
            "help": "Task objective: single_task or multitask (or a registered one). Default: multitask when the "
            "recipe has a `multitask:` block, else single_task."
        },
    )


@dataclass
class StageArguments:
    """A multi-stage recipe: ``stages`` run in order in one output folder (``stages/<n>-<name>/``)."""

    stages: list | str | None = field(
        default=None,
        metadata={
            "help": "Stages run in order, each a mapping with `kind` (a registered stage kind, e.g. train), an "
            "optional `name`, the kind's options and overrides of any recipe key; each stage starts from the "
            "previous one's model. On the command line a JSON list. Unset: one training run, as always."
        },
    )

    def __post_init__(self):
        if self.stages is None:
            return
        self.stages = json_spec(self.stages, "stages")
        if not isinstance(self.stages, list) or not self.stages:
            raise RecipeError(
                f"`stages` must be a non-empty list of mappings, each with `kind` (e.g. [{{kind: train}}]), got "
                f"{self.stages!r}."
            )
        for number, stage in enumerate(self.stages, start=1):
            if not isinstance(stage, dict) or not stage.get("kind"):
                raise RecipeError(
                    f"Stage {number} of `stages` must be a mapping with `kind` (e.g. {{kind: train, "
                    f"learning_rate: 1e-4}}), got {stage!r}."
                )
