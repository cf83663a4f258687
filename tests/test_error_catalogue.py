"""The catalogue of bad inputs (``docs/errors.md``): each row is a case here, run through the CLI.

Every case asserts: the documented exception from the command's Python entry point; exit status 2 from
``hf-transfer`` with one line on stderr naming the key, file or column and the fix, and no traceback; failure
before training starts (the Trainer is never built) unless the case says otherwise; and nothing written or
deleted in the case's folder. ``docs/errors.md`` is rendered from ``docs/errors.json``, which the cases write when
run with ``HF_TRANSFER_WRITE_ERRORS=1`` (``python scripts/build_error_catalogue.py``); otherwise each case's
message must equal the documented one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import FAST_RUN, SMALL_TEXT_DATA, colour_image

from hf_transfer.cli.main import build_parser, main
from hf_transfer.errors import (
    DataError,
    HfTransferError,
    ModelResolutionError,
    OutputDirError,
    PushError,
    RecipeError,
    StrategyError,
)
from hf_transfer.run_files import RUN_MARKER
from hf_transfer.stages import train as train_stage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
ERRORS_JSON = ROOT / "docs" / "errors.json"
ERRORS_MD = ROOT / "docs" / "errors.md"
WRITE = os.environ.get("HF_TRANSFER_WRITE_ERRORS") == "1"


@dataclass
class World:
    """A case's folder: a copy of the tiny checkpoint (``model``), small data files, a recipe writer."""

    tmp: Path
    model: Path
    image_model: Path | None = None

    def recipe(self, name: str = "recipe.yaml", text: str | None = None, **values) -> str:
        """A recipe file: the tiny base recipe with ``values`` (None deletes a key), or the raw ``text``."""
        path = self.tmp / name
        if text is not None:
            path.write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
            return str(path)
        recipe = {
            "model_name_or_path": str(self.model),
            **SMALL_TEXT_DATA,
            **FAST_RUN,
            "max_steps": 1,
            "output_dir": str(self.tmp / "out"),
        }
        recipe.update(values)
        path.write_text(yaml.safe_dump({k: v for k, v in recipe.items() if v is not None}), encoding="utf-8")
        return str(path)

    def csv(self, name: str, text: str, encoding: str = "utf-8") -> str:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return str(path)

    def reviews(self, name: str = "reviews.csv", rows: int = 12, missing: tuple[int, ...] = ()) -> str:
        lines = ["text,label"] + [
            f"review number {i},{'' if i in missing else ('positive' if i % 2 else 'negative')}"
            for i in range(rows)
        ]
        return self.csv(name, "\n".join(lines) + "\n")

    def without_mask_token(self) -> Path:
        """A copy of the model whose tokenizer has no mask token."""
        from transformers import AutoTokenizer

        path = self.tmp / "no-mask-model"
        shutil.copytree(self.model, path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.mask_token = None
        tokenizer.save_pretrained(path)
        return path

    def run_folder(self, name: str = "previous") -> Path:
        """A folder as an earlier run left it (marked), with a checkpoint."""
        path = self.tmp / name
        (path / "checkpoint-1").mkdir(parents=True)
        (path / RUN_MARKER).write_text("{}")
        (path / "metrics.json").write_text("{}")
        return path


@dataclass
class Case:
    id: str
    area: str
    bad_input: str
    argv: Callable[[World], list[str]]
    error: type[HfTransferError]
    expect: str  # a regex the message matches: it names the key / file / column and the fix
    before_training: bool = True


def train_with(**values) -> Callable[[World], list[str]]:
    return lambda w: ["train", w.recipe(**values)]


def image_folder(w: World, corrupt: bool = False) -> str:
    root = w.tmp / "images"
    for split in ("train", "test"):
        for label in ("red", "green"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                colour_image(0 if label == "red" else 1, seed=i).save(folder / f"{i}.png")
    if corrupt:
        (root / "train" / "red" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return str(root)


def image_recipe(w: World, checkpoint: Path, **values) -> list[str]:
    recipe = w.recipe(
        model_name_or_path=str(checkpoint),
        dataset_name=image_folder(w, corrupt=values.pop("corrupt", False)),
        max_length=None,
        **values,
    )
    return ["train", recipe]


CASES = [
    # -- recipe keys and values -----------------------------------------------------------------------------
    Case(
        "unknown_key",
        "recipe",
        "a misspelt key (`learning_rte`)",
        train_with(learning_rte=1e-4),
        RecipeError,
        r"'learning_rte'.*Did you mean 'learning_rate'",
    ),
    Case(
        "unknown_cli_option",
        "recipe",
        "a misspelt command-line option (`--num_train_epoch 2`)",
        lambda w: ["train", w.recipe(), "--num_train_epoch", "2"],
        RecipeError,
        r"--num_train_epoch.*Did you mean 'num_train_epochs'",
    ),
    Case(
        "not_a_number",
        "recipe",
        "`learning_rate: fast`",
        train_with(learning_rate="fast"),
        RecipeError,
        r"`learning_rate` must be a number, got 'fast'.*learning_rate: 1e-4",
    ),
    Case(
        "not_an_integer",
        "recipe",
        "`max_length: long`",
        train_with(max_length="long"),
        RecipeError,
        r"`max_length` must be an integer, got 'long'",
    ),
    Case(
        "not_a_bool",
        "recipe",
        "`save_predictions: maybe`",
        train_with(save_predictions="maybe"),
        RecipeError,
        r"`save_predictions` must be true or false",
    ),
    Case(
        "negative_learning_rate",
        "recipe",
        "`learning_rate: -1e-4`",
        train_with(learning_rate=-1e-4),
        RecipeError,
        r"`learning_rate` must be > 0",
    ),
    Case(
        "zero_batch_size",
        "recipe",
        "`per_device_train_batch_size: 0`",
        train_with(per_device_train_batch_size=0),
        RecipeError,
        r"`per_device_train_batch_size` must be at least 1",
    ),
    Case(
        "zero_epochs",
        "recipe",
        "`num_train_epochs: 0` without `max_steps`",
        train_with(num_train_epochs=0, max_steps=None),
        RecipeError,
        r"`num_train_epochs` is 0.*`max_steps` > 0",
    ),
    Case(
        "unknown_metric",
        "recipe",
        "`metrics: [acuracy]`",
        train_with(metrics=["acuracy"]),
        RecipeError,
        r"Unknown metric 'acuracy'.*Did you mean 'accuracy'",
    ),
    Case(
        "validation_split_size",
        "recipe",
        "`validation_split_size: 1.5`",
        train_with(validation_split_size=1.5),
        RecipeError,
        r"`validation_split_size` must be in \(0, 1\)",
    ),
    Case(
        "max_length_above_model",
        "recipe",
        "`max_length: 100000` (the model takes 128 tokens)",
        train_with(max_length=100000),
        RecipeError,
        r"`max_length` 100000 is above .* \(128 tokens\).*at most 128",
    ),
    Case(
        "no_model",
        "recipe",
        "no `model_name_or_path`",
        train_with(model_name_or_path=None),
        RecipeError,
        r"`model_name_or_path` is required",
    ),
    Case(
        "no_data",
        "recipe",
        "neither `dataset_name` nor `train_file`",
        train_with(dataset_name=None),
        RecipeError,
        r"No data: set `dataset_name`.*or `train_file`",
    ),
    Case(
        "recipe_not_utf8",
        "recipe",
        "a recipe file saved as Latin-1",
        lambda w: ["train", w.recipe(text="model_name_or_path: caf\u00e9\n")],
        RecipeError,
        r"is not UTF-8 text.*re-save it as UTF-8",
    ),
    Case(
        "recipe_not_a_mapping",
        "recipe",
        "a recipe that is a YAML list",
        lambda w: ["train", w.recipe(text="- a\n- b\n")],
        RecipeError,
        r"must be a mapping of keys to values",
    ),
    Case(
        "recipe_invalid_yaml",
        "recipe",
        "a recipe that is not valid YAML",
        lambda w: ["train", w.recipe(text="a: [1, 2\n")],
        RecipeError,
        r"is not valid YAML",
    ),
    Case(
        "recipe_not_found",
        "recipe",
        "a misspelt shipped recipe name (`sentiment/minilm_ful`)",
        lambda w: ["train", "sentiment/minilm_ful"],
        RecipeError,
        r"Did you mean 'sentiment/minilm_full'",
    ),
    # -- files and columns ----------------------------------------------------------------------------------
    Case(
        "missing_file",
        "files",
        "`train_file` that does not exist",
        lambda w: ["train", w.recipe(dataset_name=None, train_file=str(w.tmp / "nope.csv"))],
        DataError,
        r"The train file .*nope\.csv' does not exist\. Check `train_file`",
    ),
    Case(
        "empty_file",
        "files",
        "a 0-byte `train_file`",
        lambda w: ["train", w.recipe(dataset_name=None, train_file=w.csv("empty.csv", ""))],
        DataError,
        r"empty\.csv' is empty \(0 bytes\)",
    ),
    Case(
        "header_only_file",
        "files",
        "a csv with a header and no rows",
        lambda w: ["train", w.recipe(dataset_name=None, train_file=w.csv("header.csv", "text,label\n"))],
        DataError,
        r"The 'train' split is empty: .*header\.csv holds no data row",
    ),
    Case(
        "not_utf8_csv",
        "files",
        "a Latin-1 csv without `file_encoding`",
        lambda w: [
            "train",
            w.recipe(
                dataset_name=None,
                train_file=w.csv(
                    "latin.csv",
                    "text,label\n" + "caf\u00e9 cr\u00e8me,positive\nna\u00efve,negative\n" * 4,
                    "latin-1",
                ),
            ),
        ],
        DataError,
        r"is not UTF-8 text.*Set `file_encoding`.*latin-1",
    ),
    Case(
        "unknown_encoding",
        "files",
        "`file_encoding: klingon`",
        lambda w: ["train", w.recipe(dataset_name=None, train_file=w.reviews(), file_encoding="klingon")],
        RecipeError,
        r"Unknown `file_encoding` 'klingon'",
    ),
    Case(
        "unsupported_extension",
        "files",
        "a `.xlsx` train file",
        lambda w: ["train", w.recipe(dataset_name=None, train_file=w.csv("data.xlsx", "x"))],
        DataError,
        r"unsupported file type '\.xlsx'\. Use one of \.csv",
    ),
    Case(
        "train_file_is_a_folder",
        "files",
        "`train_file` that is a folder",
        lambda w: [
            "train",
            w.recipe(dataset_name=None, train_file=str(w.csv("data/a.csv", "x").rsplit("/", 1)[0])),
        ],
        DataError,
        r"is a folder, not a file",
    ),
    Case(
        "missing_text_column",
        "files",
        "`text_column: review` where the column is `text`",
        train_with(text_column="review"),
        DataError,
        r"Column 'review' \(the text_column\) is not in the 'train' split.*Set `text_column`",
    ),
    Case(
        "missing_label_column",
        "files",
        "`label_column: sentiment` where the column is `label`",
        train_with(label_column="sentiment"),
        DataError,
        r"Column 'sentiment' \(the label_column\).*Set `label_column`",
    ),
    Case(
        "unknown_dataset",
        "files",
        "a dataset name that is neither built in nor reachable offline",
        train_with(dataset_name="rotten_tomatoe_snippets"),
        DataError,
        r"Cannot load dataset 'rotten_tomatoe_snippets'.*Did you mean 'rotten_tomatoes_snippets'",
    ),
    # -- labels ---------------------------------------------------------------------------------------------
    Case(
        "unlabelled_rows",
        "labels",
        "train rows with an empty label cell",
        lambda w: ["train", w.recipe(dataset_name=None, train_file=w.reviews(missing=(2, 5, 7)))],
        DataError,
        r"'train' split has 3 of 12 rows without a label in column 'label' \(data rows 3, 6, 8.*"
        r"`drop_unlabelled_rows: true`",
    ),
    Case(
        "one_class",
        "labels",
        "a train split with a single class",
        lambda w: [
            "train",
            w.recipe(
                dataset_name=None,
                train_file=w.csv(
                    "one.csv", "text,label\n" + "".join(f"text {i},positive\n" for i in range(8))
                ),
            ),
        ],
        DataError,
        r"Column 'label' has 1 distinct value\(s\) in train: a classifier needs at least 2",
    ),
    Case(
        "unseen_test_label",
        "labels",
        "a test label that train does not have",
        lambda w: [
            "train",
            w.recipe(
                dataset_name=None,
                train_file=w.reviews(),
                test_file=w.csv("test.csv", "text,label\nfine,neutral\nbad,negative\n"),
            ),
        ],
        DataError,
        r"'test' split has label\(s\) absent from train: 'neutral'",
    ),
    # -- models and checkpoints -----------------------------------------------------------------------------
    Case(
        "missing_model_dir",
        "models",
        "`model_name_or_path` a folder that does not exist",
        lambda w: ["train", w.recipe(model_name_or_path=str(w.tmp / "no_model"))],
        ModelResolutionError,
        r"no_model",
    ),
    Case(
        "unknown_hub_id_offline",
        "models",
        "a Hub id that is not installed, offline",
        train_with(model_name_or_path="someone/no-such-model"),
        ModelResolutionError,
        r"someone/no-such-model",
    ),
    Case(
        "unknown_pooling",
        "models",
        "`pooling: avg`",
        train_with(pooling="avg"),
        RecipeError,
        r"Unknown `pooling` 'avg': use model, auto, cls, pooler, mean or max",
    ),
    # -- strategies -----------------------------------------------------------------------------------------
    Case(
        "unknown_strategy",
        "strategies",
        "`strategy: feature_extractoin`",
        train_with(strategy="feature_extractoin"),
        StrategyError,
        r"type 'feature_extractoin' is unknown\. Did you mean 'feature_extraction'",
    ),
    Case(
        "unknown_strategy_option",
        "strategies",
        "`{type: top_layers, num_layer: 2}`",
        train_with(strategy={"type": "top_layers", "num_layer": 2}),
        StrategyError,
        r"'num_layer': Did you mean 'num_layers'",
    ),
    Case(
        "strategy_value_type",
        "strategies",
        "`{type: top_layers, num_layers: two}`",
        train_with(strategy={"type": "top_layers", "num_layers": "two"}),
        RecipeError,
        r"strategy 'top_layers': `num_layers` must be an integer, got 'two'",
    ),
    Case(
        "too_many_layers",
        "strategies",
        "`num_layers: 12` on a 3-block model",
        train_with(strategy={"type": "top_layers", "num_layers": 12}),
        StrategyError,
        r"num_layers=12 but .* has 3 blocks.*Use at most 3",
    ),
    Case(
        "peft_option_of_another_method",
        "strategies",
        "`{type: peft, method: ia3, r: 16}`",
        train_with(strategy={"type": "peft", "method": "ia3", "r": 16}),
        StrategyError,
        r"method 'ia3' has no `r` option",
    ),
    Case(
        "peft_unknown_option",
        "strategies",
        "`options: {lora_alpah: 8}` for LoRA",
        train_with(strategy={"type": "peft", "options": {"lora_alpah": 8}}),
        StrategyError,
        r"unknown `options` key\(s\) for method 'lora'.*'lora_alpah'.*lora_alpha",
    ),
    Case(
        "pattern_matches_nothing",
        "strategies",
        "`patterns` matching no parameter",
        train_with(strategy={"type": "patterns", "include": ["*.attention.nothing.*"]}),
        StrategyError,
        r"nothing",
    ),
    Case(
        "cache_features_with_adaptation",
        "strategies",
        "`cache_features: true` with `adaptation`",
        train_with(
            strategy={"type": "feature_extraction", "cache_features": True},
            adaptation="dann",
            target_dataset_name="sentiment_domains",
            target_dataset_config_name="amazon",
        ),
        RecipeError,
        r"`cache_features` cannot be combined with `adaptation`.*drop `cache_features: true`",
    ),
    # -- domain adaptation ----------------------------------------------------------------------------------
    Case(
        "empty_target_file",
        "adaptation",
        "a 0-byte `target_train_file`",
        lambda w: ["train", w.recipe(adaptation="dann", target_train_file=w.csv("target.csv", ""))],
        DataError,
        r"target\.csv' is empty \(0 bytes\)",
    ),
    Case(
        "adaptation_without_target",
        "adaptation",
        "`adaptation: dann` without a target domain",
        train_with(adaptation="dann"),
        RecipeError,
        r"`adaptation` needs a target domain: set `target_dataset_name`",
    ),
    Case(
        "target_without_adaptation",
        "adaptation",
        "a target domain without `adaptation`",
        train_with(target_dataset_name="sentiment_domains"),
        RecipeError,
        r"no `adaptation`: add e\.g\. `adaptation: dann`",
    ),
    Case(
        "unknown_alignment",
        "adaptation",
        "`adaptation: dan`",
        train_with(adaptation="dan", target_dataset_name="sentiment_domains"),
        RecipeError,
        r"unknown type 'dan'\. Did you mean 'dann'",
    ),
    Case(
        "source_fraction",
        "adaptation",
        "`source_fraction: 1.5`",
        train_with(
            adaptation={"type": "dann", "source_fraction": 1.5}, target_dataset_name="sentiment_domains"
        ),
        RecipeError,
        r"source_fraction must be in \(0, 1\)",
    ),
    Case(
        "prior_correction_value",
        "adaptation",
        "`prior_correction: bbse`",
        train_with(adaptation="dann", target_dataset_name="sentiment_domains", prior_correction="bbse"),
        RecipeError,
        r"prior_correction: unknown value 'bbse'; use none or em",
    ),
    Case(
        "prior_correction_without_target",
        "adaptation",
        "`prior_correction: em` without a target domain",
        train_with(prior_correction="em"),
        RecipeError,
        r"prior_correction needs a target domain and an `adaptation`.*source_only",
    ),
    Case(
        "max_target_train_samples",
        "adaptation",
        "`max_target_train_samples: 1`",
        train_with(adaptation="dann", target_dataset_name="sentiment_domains", max_target_train_samples=1),
        RecipeError,
        r"`max_target_train_samples` must be at least 2 target rows",
    ),
    Case(
        "max_target_train_samples_without_target",
        "adaptation",
        "`max_target_train_samples: 500` without a target domain",
        train_with(max_target_train_samples=500),
        RecipeError,
        r"`max_target_train_samples` caps the target domain's train rows, but no target is set",
    ),
    Case(
        "udalm_without_mask_token",
        "adaptation",
        "`adaptation: udalm` with a tokenizer that has no mask token",
        lambda w: [
            "train",
            w.recipe(
                adaptation="udalm",
                target_train_file=w.csv(
                    "target.csv", "text\n" + "\n".join(f"row {i}" for i in range(8)) + "\n"
                ),
                model_name_or_path=str(w.without_mask_token()),
            ),
        ],
        StrategyError,
        r"udalm masks target text, but the tokenizer has no mask token",
    ),
    Case(
        "adabn_without_batch_norm",
        "adaptation",
        "`adaptation: adabn` with a transformer (no batch norm)",
        lambda w: [
            "train",
            w.recipe(
                adaptation="adabn",
                target_train_file=w.csv(
                    "target.csv", "text\n" + "\n".join(f"row {i}" for i in range(8)) + "\n"
                ),
            ),
        ],
        StrategyError,
        r"has no batch-norm layer.*convolutional image model",
    ),
    Case(
        "mlm_stage_without_target",
        "stages",
        "an `mlm` stage reading the target in a recipe without one",
        train_with(stages=[{"kind": "mlm"}, {"kind": "train"}]),
        RecipeError,
        r"`mlm_text: target` reads the target domain, but the recipe has none.*mlm_text: file",
    ),
    Case(
        "self_train_without_target",
        "stages",
        "a `self_train` stage in a recipe without a target",
        train_with(stages=[{"kind": "train"}, {"kind": "self_train"}]),
        RecipeError,
        r"self_train pseudo-labels the target domain, but the recipe has none",
    ),
    # -- multi-task -----------------------------------------------------------------------------------------
    Case(
        "one_task",
        "multitask",
        "a `multitask` block with one task",
        train_with(multitask={"tasks": [{"name": "sentiment", "label_column": "label"}]}),
        RecipeError,
        r"lists 1 task\(s\); a multi-task recipe needs at least two.*drop the `multitask` block",
    ),
    Case(
        "task_named_mean",
        "multitask",
        "a task named `mean`",
        train_with(multitask={"tasks": [{"name": "mean", "label_column": "label"}, {"name": "b"}]}),
        RecipeError,
        r"Task name 'mean' is not allowed.*mean_<metric>",
    ),
    Case(
        "task_name_with_dot",
        "multitask",
        "a task named `sent.v2`",
        train_with(multitask={"tasks": [{"name": "sent.v2", "label_column": "label"}, {"name": "b"}]}),
        RecipeError,
        r"Task name 'sent\.v2' is not allowed: use letters, digits and _",
    ),
    Case(
        "duplicate_tasks",
        "multitask",
        "two tasks with one name",
        train_with(multitask={"tasks": [{"name": "a"}, {"name": "a"}]}),
        RecipeError,
        r"rename the repeated 'a'",
    ),
    Case(
        "objective_without_its_block",
        "multitask",
        "`objective: multitask` without a `multitask:` block",
        train_with(objective="multitask"),
        RecipeError,
        r"`objective: multitask` needs its `multitask:` block",
    ),
    Case(
        "wrapper_as_task_objective",
        "adaptation",
        "`objective: domain_adaptation` (a wrapper, switched on by its block)",
        train_with(objective="domain_adaptation"),
        RecipeError,
        r"wraps a task objective: set its block instead \(e.g. `adaptation: dann`\)",
    ),
    Case(
        "objective_contradicts_a_block",
        "multitask",
        "`objective: single_task` beside a `multitask:` block",
        train_with(objective="single_task", multitask={"tasks": [{"name": "a"}, {"name": "b"}]}),
        RecipeError,
        r"`objective: single_task` but the recipe also sets the block of `multitask`: drop one",
    ),
    Case(
        "unknown_objective",
        "multitask",
        "a misspelt `objective`",
        train_with(objective="multitsk"),
        RecipeError,
        r"Unknown objective 'multitsk'. Did you mean 'multitask'",
    ),
    Case(
        "unknown_stage_kind",
        "stages",
        "a stage of an unregistered kind",
        train_with(stages=[{"kind": "pretrain_mlm"}]),
        RecipeError,
        r"stage 1 of `stages`: unknown stage kind 'pretrain_mlm'",
    ),
    Case(
        "stage_sets_a_run_key",
        "stages",
        "a stage that sets `output_dir`",
        train_with(stages=[{"kind": "train", "output_dir": "elsewhere"}]),
        RecipeError,
        r"`output_dir` is set for the whole run, not per stage",
    ),
    # -- images ---------------------------------------------------------------------------------------------
    Case(
        "corrupt_image",
        "images",
        "an image folder with a corrupt PNG",
        lambda w: image_recipe(w, w.image_model, corrupt=True),
        DataError,
        r"1 of \d+ images in the 'train' split cannot be read \(.*1\.png.*Remove or replace",
    ),
    Case(
        "image_size",
        "images",
        "`image_size: 4`",
        train_with(image_size=4),
        RecipeError,
        r"`image_size` must be at least 8 pixels",
    ),
    Case(
        "unknown_degradation",
        "images",
        "`degrade: [fog]`",
        train_with(degrade=["fog"]),
        RecipeError,
        r"Unknown `degrade` kind 'fog'",
    ),
    # -- output folders -------------------------------------------------------------------------------------
    Case(
        "output_dir_is_a_file",
        "outputs",
        "`output_dir` that is a file",
        lambda w: ["train", w.recipe(output_dir=w.csv("results.txt", "mine"))],
        OutputDirError,
        r"is a file, not a folder: choose a folder path",
    ),
    Case(
        "output_dir_is_the_model",
        "outputs",
        "`output_dir` equal to `model_name_or_path`, with overwrite",
        lambda w: ["train", w.recipe(output_dir=str(w.model), overwrite_output_dir=True)],
        OutputDirError,
        r"is `model_name_or_path`.*never writes into \(or deletes\) what it reads",
    ),
    Case(
        "output_dir_contains_data",
        "outputs",
        "`output_dir` a folder holding the train file",
        lambda w: [
            "train",
            w.recipe(
                dataset_name=None, train_file=w.reviews("data/reviews.csv"), output_dir=str(w.tmp / "data")
            ),
        ],
        OutputDirError,
        r"contains `train_file`",
    ),
    Case(
        "output_dir_not_empty",
        "outputs",
        "an existing non-empty `output_dir`",
        lambda w: ["train", w.recipe(output_dir=str(w.run_folder()))],
        OutputDirError,
        r"already exists and is not empty.*--overwrite_output_dir.*--resume_from_checkpoint true",
    ),
    Case(
        "overwrite_unmarked",
        "outputs",
        "`overwrite_output_dir` on a folder no run created",
        lambda w: [
            "train",
            w.recipe(
                output_dir=w.csv("mine/notes.txt", "x") and str(w.tmp / "mine"), overwrite_output_dir=True
            ),
        ],
        OutputDirError,
        r"Refusing to delete .*mine.*\.hf_transfer_run",
    ),
    # -- resuming -------------------------------------------------------------------------------------------
    Case(
        "resume_without_checkpoint",
        "resume",
        "`resume_from_checkpoint: true` in a new folder",
        train_with(resume_from_checkpoint="true"),
        OutputDirError,
        r"no checkpoint-\* folder in",
    ),
    Case(
        "resume_missing_path",
        "resume",
        "`resume_from_checkpoint` a path that does not exist",
        lambda w: ["train", w.recipe(resume_from_checkpoint=str(w.tmp / "gone" / "checkpoint-9"))],
        OutputDirError,
        r"no such checkpoint directory",
    ),
    Case(
        "resume_into_other_folder",
        "resume",
        "another run's checkpoint into a non-empty `output_dir`",
        lambda w: [
            "train",
            w.recipe(
                resume_from_checkpoint=str(w.run_folder() / "checkpoint-1"),
                output_dir=str(w.run_folder("busy")),
            ),
        ],
        OutputDirError,
        r"is not one of its checkpoints.*writes into an empty or new --output_dir only",
    ),
    Case(
        "resume_false_into_non_empty",
        "resume",
        "`resume_from_checkpoint: false` and a non-empty `output_dir`",
        lambda w: ["train", w.recipe(resume_from_checkpoint=False, output_dir=str(w.run_folder()))],
        OutputDirError,
        r"already exists and is not empty",
    ),
    Case(
        "overwrite_while_resuming",
        "resume",
        "`overwrite_output_dir` with `resume_from_checkpoint: true`",
        lambda w: [
            "train",
            w.recipe(resume_from_checkpoint=True, overwrite_output_dir=True, output_dir=str(w.run_folder())),
        ],
        OutputDirError,
        r"would delete the folder the run resumes in",
    ),
    Case(
        "output_inside_checkpoint",
        "resume",
        "`output_dir` inside the checkpoint being resumed",
        lambda w: [
            "train",
            w.recipe(
                resume_from_checkpoint=str(w.run_folder() / "checkpoint-1"),
                output_dir=str(w.tmp / "previous" / "checkpoint-1" / "next"),
            ),
        ],
        OutputDirError,
        r"lies inside the checkpoint being resumed",
    ),
    Case(
        "output_above_resumed_run",
        "resume",
        "`output_dir` a folder above the resumed run (`outputs/`)",
        lambda w: [
            "train",
            w.recipe(
                resume_from_checkpoint=str(w.run_folder("runs/a") / "checkpoint-1"),
                output_dir=str(w.tmp / "runs"),
            ),
        ],
        OutputDirError,
        r"is not one of its checkpoints",
    ),
    # -- publishing and predicting --------------------------------------------------------------------------
    Case(
        "push_without_repo_id",
        "publishing",
        "`push_to_hub: true` without `hub_model_id`",
        train_with(push_to_hub=True),
        RecipeError,
        r"needs hub_model_id",
    ),
    Case(
        "push_cli_without_repo_id",
        "publishing",
        "`hf-transfer push RUN` without `--repo-id`",
        lambda w: ["push", str(w.run_folder())],
        RecipeError,
        r"needs --repo-id",
    ),
    Case(
        "push_to_a_dataset_repo",
        "publishing",
        "`hf-transfer push RUN --repo-id datasets/you/name`",
        lambda w: ["push", str(w.run_folder()), "--repo-id", "datasets/you/reviews"],
        PushError,
        r"names a dataset repo: hf-transfer push uploads a model, to a model repo id such as 'you/reviews'",
    ),
    Case(
        "predict_missing_repo",
        "publishing",
        "`hf-transfer predict you/model` offline, the repo not in the cache",
        lambda w: ["predict", "nobody/no-such-model", "--text", "fine"],
        ModelResolutionError,
        r"Could not download the Hub repo 'nobody/no-such-model'",
    ),
    Case(
        "predict_output_exists",
        "publishing",
        "`hf-transfer predict --output F` where F exists",
        lambda w: ["predict", str(w.model), "--text", "fine", "--output", w.csv("preds.jsonl", "{}\n")],
        OutputDirError,
        r"preds\.jsonl already exists: choose a new file path, or pass --overwrite",
    ),
    Case(
        "predict_nothing",
        "publishing",
        "`hf-transfer predict MODEL` with no input",
        lambda w: ["predict", str(w.model)],
        DataError,
        r"Nothing to predict: pass texts",
    ),
    # -- training options -------------------------------------------------------------------------------------
    Case(
        "early_stopping_without_evaluations",
        "recipe",
        "`early_stopping_patience: 2` with `eval_strategy: no`",
        train_with(early_stopping_patience=2),
        RecipeError,
        r"`early_stopping_patience` needs evaluations.*eval_strategy: epoch",
    ),
    Case(
        "class_weight_unknown_label",
        "labels",
        "`class_weight: {neutral: 2.0}` on positive / negative data",
        train_with(class_weight={"neutral": 2.0}),
        RecipeError,
        r"`class_weight` names label\(s\) 'neutral' the data does not have; its labels: negative, positive",
    ),
    Case(
        "eval_set_reserved_name",
        "recipe",
        "`eval_files: {test: other.csv}`",
        train_with(eval_files={"test": "other.csv"}),
        RecipeError,
        r"`eval_files` name 'test' must be a word .* other than train, validation, test",
    ),
    # -- compare and tune -------------------------------------------------------------------------------------
    Case(
        "compare_unknown_candidate",
        "compare",
        "`hf-transfer compare RECIPE --candidates lorra`",
        lambda w: ["compare", w.recipe(), "--candidates", "lorra", "--output_dir", str(w.tmp / "cmp")],
        RecipeError,
        r"Unknown compare candidate 'lorra'. Did you mean 'lora'",
    ),
    Case(
        "compare_bad_budget",
        "compare",
        "`hf-transfer compare RECIPE --budget soon`",
        lambda w: ["compare", w.recipe(), "--budget", "soon", "--output_dir", str(w.tmp / "cmp")],
        RecipeError,
        r"`budget: soon` is not a duration: write e.g. 30m",
    ),
    Case(
        "compare_into_a_foreign_folder",
        "compare",
        "`hf-transfer compare RECIPE --output_dir notes/` where notes/ holds other files",
        lambda w: [
            "compare",
            w.recipe(),
            "--candidates",
            "full",
            "--output_dir",
            str(Path(w.csv("notes/todo.txt", "keep")).parent),
        ],
        OutputDirError,
        r"is not empty and no comparison made it",
    ),
    Case(
        "tune_fixed_key",
        "compare",
        "`hf-transfer tune RECIPE --search_space '{\"max_length\": [32, 64]}'`",
        lambda w: ["tune", w.recipe(), "--search_space", '{"max_length": [32, 64]}'],
        RecipeError,
        r"'max_length' changes the model or the data, which stay fixed in a search",
    ),
    Case(
        "tune_without_search_space",
        "compare",
        "`hf-transfer tune RECIPE` without a search space",
        lambda w: ["tune", w.recipe()],
        RecipeError,
        r"The search space is empty",
    ),
    Case(
        "evaluate_missing_split",
        "publishing",
        "`hf-transfer evaluate MODEL --split dev2`",
        lambda w: ["evaluate", str(w.model), "--split", "dev2", "--dataset_name", "rotten_tomatoes_snippets"],
        DataError,
        r"no 'dev2' split; its splits are: train, validation, test",
    ),
]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root``: (size, mtime in ns)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
    }


class TrainingStarted(Exception):
    """Raised if a case reaches the Trainer: the input should have been refused before."""


def normalise(message: str, world: World) -> str:
    """The message with the paths of this machine and run as placeholders."""
    message = message.replace(str(world.model), "<model>").replace(str(world.tmp), "<dir>")
    return message.replace(str(ROOT), "<repo>")


@pytest.fixture
def world(tmp_path, tiny_checkpoints, tiny_image_checkpoints, monkeypatch) -> World:
    monkeypatch.chdir(tmp_path)
    case_dir = tmp_path / "case"
    model = case_dir / "model"
    shutil.copytree(tiny_checkpoints["bert"], model)
    return World(case_dir, model, tiny_image_checkpoints["vit"])


def documented() -> dict[str, dict]:
    return {row["id"]: row for row in json.loads(ERRORS_JSON.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_bad_input_fails_early_with_one_clear_line(case, world, monkeypatch, capsys):
    argv = case.argv(world)
    if case.before_training:

        def refuse(*args, **kwargs):
            raise TrainingStarted(case.id)

        monkeypatch.setattr(train_stage, "TransferTrainer", refuse)
    before = snapshot(world.tmp)
    # the Python entry point raises the documented exception
    args, extra = build_parser().parse_known_args(argv)
    args.command_argv = argv[1:]
    with pytest.raises(case.error) as raised:
        args.func(args, extra)
    message = str(raised.value)
    assert re_search(case.expect, message), f"{case.id}: {message}"
    assert "\n" not in message.strip(), f"{case.id}: more than one line"
    assert snapshot(world.tmp) == before, f"{case.id}: files were written or deleted"
    # the CLI: exit 2, that one line, no traceback
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"hf-transfer {argv[0]}: error: {message}" in err and "Traceback" not in err
    assert snapshot(world.tmp) == before
    row = {
        "id": case.id,
        "area": case.area,
        "bad_input": case.bad_input,
        "exception": case.error.__name__,
        "message": normalise(message, world),
    }
    if WRITE:
        fragments = ROOT / "docs" / ".errors"
        fragments.mkdir(exist_ok=True)
        (fragments / f"{case.id}.json").write_text(json.dumps(row), encoding="utf-8")
    else:
        assert documented().get(case.id) == row, (
            "docs/errors.json is stale: run scripts/build_error_catalogue.py"
        )


def re_search(pattern: str, text: str) -> bool:
    return re.search(pattern, text, flags=re.DOTALL) is not None


def test_the_catalogue_documents_every_case_and_has_forty_rows():
    from build_error_catalogue import render  # scripts/build_error_catalogue.py

    rows = json.loads(ERRORS_JSON.read_text(encoding="utf-8"))
    assert [row["id"] for row in rows] == [case.id for case in CASES]
    assert len(rows) >= 40
    assert ERRORS_MD.read_text(encoding="utf-8") == render(rows)
