"""The ``mlm`` stage kind: continued masked-LM pretraining of the encoder on unlabelled text (TAPT / DAPT).

Gururangan et al. (2020), "Don't Stop Pretraining": a few epochs of the checkpoint's own masked-LM objective on
the target domain's text before fine-tuning. The stage loads ``AutoModelForMaskedLM`` from the stage's checkpoint
(a checkpoint that ships no masked-LM head, such as all-MiniLM-L6-v2, gets a fresh one, and the log says so),
masks with :class:`~transformers.DataCollatorForLanguageModeling`, trains with the stage's training keys
(``num_train_epochs``, ``learning_rate``…), and saves the **encoder alone** (the head dropped) with its tokenizer:
the next stage starts from the adapted encoder and adds its own task head. ``metrics.json`` holds the masked-LM
loss and perplexity on held-out text before and after.

Example (YAML)::

    stages:
      - {kind: mlm, mlm_text: target, num_train_epochs: 3, learning_rate: 1e-4}
      - {kind: train, adaptation: source_only}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
from datasets import Dataset, concatenate_datasets
from transformers import AutoModel, DataCollatorForLanguageModeling, Trainer

from ..data import is_image_processor, load_raw_datasets
from ..errors import DataError, RecipeError, StrategyError
from ..modeling.masked_lm import load_masked_lm
from ..objectives.domain_adaptation.objective import target_data_arguments
from ..run_files import METRICS_FILE, METRICS_FORMAT_VERSION, RECIPE_FILE
from ..training.outputs import resolve_resume
from ..training.prepare import load_checkpoint
from .base import StageContext, StageKind, StageResult, register_stage_kind
from .train import precision_report

logger = logging.getLogger(__name__)

TEXT_SOURCES = ("target", "source_and_target", "source", "file")


@dataclass
class MaskedLMStageArguments:
    """The ``mlm`` stage's own keys."""

    mlm_text: str = field(
        default="target",
        metadata={
            "help": "The text to pretrain on: target (the target domain's train split), source_and_target, "
            "source (the recipe's train split), or file (`mlm_text_file`)."
        },
    )
    mlm_text_file: str | None = field(
        default=None,
        metadata={
            "help": "With mlm_text: file — a .txt (one text per line) or a csv/jsonl/parquet data file."
        },
    )
    mlm_probability: float = field(
        default=0.15, metadata={"help": "Share of tokens masked (80 % [MASK], 10 % random, 10 % kept)."}
    )
    mlm_validation_size: float = field(
        default=0.1,
        metadata={"help": "Share of the text held out for the masked-LM loss / perplexity."},
    )

    def __post_init__(self):
        if self.mlm_text not in TEXT_SOURCES:
            raise RecipeError(
                f"mlm stage: unknown mlm_text {self.mlm_text!r}; use one of {', '.join(TEXT_SOURCES)}."
            )
        if (self.mlm_text == "file") != bool(self.mlm_text_file):
            raise RecipeError(
                "mlm stage: set `mlm_text: file` together with `mlm_text_file: PATH` (and only then)."
            )
        if self.mlm_text_file and not Path(self.mlm_text_file).is_file():
            raise RecipeError(
                f"mlm stage: mlm_text_file {self.mlm_text_file!r} is not a file. Check the path."
            )
        if not 0 < self.mlm_probability < 1:
            raise RecipeError(f"mlm stage: mlm_probability must be in (0, 1), got {self.mlm_probability}.")
        if not 0 < self.mlm_validation_size < 1:
            raise RecipeError(
                f"mlm stage: mlm_validation_size must be in (0, 1), got {self.mlm_validation_size}."
            )


def encoder_with_pooler(trainer, checkpoint, model_args):
    """The trained encoder as the checkpoint's ``AutoModel`` (the masked-LM head dropped): a masked-LM model has
    no pooler, so the checkpoint's own pooler (which BERT-style classifiers read) is kept as it was."""
    trained = trainer.accelerator.unwrap_model(trainer.model).base_model
    encoder = AutoModel.from_pretrained(
        checkpoint.path, revision=model_args.revision, trust_remote_code=model_args.trust_remote_code
    )
    missing, unexpected = encoder.load_state_dict(trained.state_dict(), strict=False)
    if unexpected or any(not name.startswith("pooler.") for name in missing):
        return trained  # another layout: the masked-LM's encoder as it is
    return encoder


def _texts(raw, column: str) -> Dataset:
    """The train and validation rows' ``column`` as one ``text`` column (a test split is never read)."""
    parts = []
    for split in ("train", "validation"):
        if split in raw:
            part = raw[split].select_columns([column])
            parts.append(part if column == "text" else part.rename_column(column, "text"))
    return concatenate_datasets(parts)


@register_stage_kind("mlm")
class MaskedLMStage(StageKind):
    """Continued masked-LM pretraining of the encoder on unlabelled (target) text: TAPT / DAPT."""

    options = MaskedLMStageArguments

    def check(self, recipe, where: str) -> None:
        if self.config.mlm_text in ("target", "source_and_target"):
            options = recipe.objective_arguments.get("domain_adaptation")
            if options is None or options.adaptation_config is None:
                raise RecipeError(
                    f"{where}: `mlm_text: {self.config.mlm_text}` reads the target domain, but the recipe has "
                    "none: set `adaptation` and `target_dataset_name` (or `target_train_file`), or use "
                    "`mlm_text: file` with `mlm_text_file`."
                )

    def text(self, recipe) -> tuple[Dataset, Dataset]:
        """Train and held-out text: (train, validation) splits of one ``text`` column."""
        seed, config, parts = recipe.training.seed, self.config, []
        if config.mlm_text == "file":
            path = config.mlm_text_file
            if path.endswith(".txt"):
                lines = datasets.load_dataset("text", data_files={"train": path}, split="train")
                parts.append(lines.filter(lambda row: bool(row["text"].strip())))
            else:
                file_args = dataclasses.replace(
                    recipe.data,
                    dataset_name=None,
                    train_file=path,
                    validation_file=None,
                    test_file=None,
                    max_train_samples=None,
                )
                raw = load_raw_datasets(file_args, seed=seed)
                parts.append(_texts(raw, recipe.data.text_column))
        if config.mlm_text in ("source", "source_and_target"):
            parts.append(_texts(load_raw_datasets(recipe.data, seed=seed), recipe.data.text_column))
        if config.mlm_text in ("target", "source_and_target"):
            target_args = target_data_arguments(recipe.data, recipe.objective_arguments["domain_adaptation"])
            raw = load_raw_datasets(target_args, seed=seed)
            parts.append(_texts(raw, target_args.text_column))  # never the target's test split
        text = concatenate_datasets(parts)
        if len(text) < 10:
            raise DataError(f"mlm stage: {len(text)} text rows; masked-LM pretraining needs at least 10.")
        held_out = text.train_test_split(test_size=config.mlm_validation_size, seed=seed)
        return held_out["train"], held_out["test"]

    def run(self, recipe, context: StageContext) -> StageResult:
        args = recipe.training
        checkpoint, tokenizer = load_checkpoint(recipe)
        if is_image_processor(tokenizer) or getattr(tokenizer, "mask_token", None) is None:
            raise StrategyError(
                "The mlm stage trains a masked-LM on text, but the checkpoint's processor has no mask token: use it "
                "with a text checkpoint pretrained with masked-LM (BERT, RoBERTa, MPNet…)."
            )
        train_text, held_out = self.text(recipe)

        def tokenize(batch):
            return tokenizer(
                batch["text"],
                truncation=True,
                max_length=recipe.data.max_length,
                return_special_tokens_mask=True,
            )

        with args.main_process_first(desc="tokenising"):
            train_set = train_text.map(tokenize, batched=True, remove_columns=["text"])
            eval_set = held_out.map(tokenize, batched=True, remove_columns=["text"])
        model_args = recipe.model
        model, fresh = load_masked_lm(checkpoint, model_args)
        if fresh:
            logger.warning(
                "%s ships no masked-LM head (%d head tensors missing): the mlm stage trains a fresh one; only the "
                "encoder is kept for the next stage.",
                checkpoint.requested,
                len(fresh),
            )
        if args.load_best_model_at_end:  # the stage's own criterion: the held-out masked-LM loss
            args.metric_for_best_model, args.greater_is_better = "loss", False
        out = context.claim(recipe)
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_set,
            eval_dataset=eval_set,
            processing_class=tokenizer,
            data_collator=DataCollatorForLanguageModeling(
                tokenizer, mlm_probability=self.config.mlm_probability, seed=args.seed
            ),
        )
        before = trainer.evaluate(metric_key_prefix="mlm")["mlm_loss"]
        train_output = trainer.train(resume_from_checkpoint=resolve_resume(args))
        after = trainer.evaluate(metric_key_prefix="mlm")["mlm_loss"]
        logger.info("mlm stage: held-out masked-LM loss %.3f → %.3f", before, after)
        report: dict[str, Any] = {
            "text": self.config.mlm_text,
            "rows": {"train": len(train_set), "validation": len(eval_set)},
            "head": "fresh" if fresh else "pretrained",
            "loss_before": before,
            "loss_after": after,
            "perplexity_before": math.exp(min(before, 50)),
            "perplexity_after": math.exp(min(after, 50)),
            "mlm_probability": self.config.mlm_probability,
        }
        results = {
            "format_version": METRICS_FORMAT_VERSION,
            "stage_kind": "mlm",
            "recipe": recipe.name,
            "model": checkpoint.requested,
            "model_source": checkpoint.source,
            "processes": args.world_size,
            "precision": precision_report(trainer),
            "train": train_output.metrics,
            "mlm": report,
            "validation": {"mlm_loss": after, "perplexity": report["perplexity_after"]},
        }
        if args.should_save:
            encoder_with_pooler(trainer, checkpoint, model_args).save_pretrained(out)  # the encoder alone
            tokenizer.save_pretrained(out)
            trainer.save_state()
            recipe.save(out / RECIPE_FILE)
            (out / METRICS_FILE).write_text(json.dumps(results, indent=2, default=str) + "\n")
        return StageResult(output_dir=out, metrics=results, trainer=trainer)
