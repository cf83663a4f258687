"""What a run writes and where: output-directory safety, checkpoint resumption, predictions."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
from datasets import ClassLabel
from scipy.special import softmax
from transformers.trainer_utils import get_last_checkpoint

from ..config import DataArguments
from ..errors import OutputDirError

logger = logging.getLogger(__name__)

RECIPE_FILE = "recipe.yaml"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions_test.jsonl"
MODEL_CARD_FILE = "README.md"
MERGED_DIR = "merged"
GAP_PLOT = "domain_gap.png"
RUN_MARKERS = (RECIPE_FILE, METRICS_FILE, "trainer_state.json", "config.json", "model.safetensors")


def _looks_like_run(path: Path) -> bool:
    return any((path / marker).exists() for marker in RUN_MARKERS) or any(path.glob("checkpoint-*"))


def prepare_output_dir(args) -> None:
    """Refuse a non-empty output directory unless resuming or told to overwrite; never delete a non-run folder."""
    out = Path(args.output_dir)
    if not out.exists() or not any(out.iterdir()):
        return
    if args.resume_from_checkpoint:
        return
    if not args.overwrite_output_dir:
        raise OutputDirError(
            f"Output directory {out} already exists and is not empty ({sum(1 for _ in out.iterdir())} entries). "
            "Choose another --output_dir, pass --overwrite_output_dir to replace it, or "
            "--resume_from_checkpoint true to continue its last checkpoint."
        )
    if not _looks_like_run(out):
        raise OutputDirError(
            f"Refusing to delete {out}: --overwrite_output_dir replaces training outputs only, and this folder "
            f"holds none of {', '.join(RUN_MARKERS)} or checkpoint-*. Choose another --output_dir."
        )
    if args.should_save:
        logger.warning("Deleting the previous contents of %s (--overwrite_output_dir).", out)
        shutil.rmtree(out)


def resolve_resume(args) -> str | None:
    value = args.resume_from_checkpoint
    if value is None or str(value).lower() in ("", "false", "no", "none"):
        return None
    if str(value).lower() in ("true", "yes", "last", "latest"):
        out = Path(args.output_dir)
        last = get_last_checkpoint(str(out)) if out.is_dir() else None
        if last is None:
            raise OutputDirError(
                f"--resume_from_checkpoint {value}: no checkpoint-* folder in {out}. Pass a checkpoint path, or "
                "start a new run without --resume_from_checkpoint."
            )
        return last
    if not Path(value).is_dir():
        raise OutputDirError(f"--resume_from_checkpoint {value}: no such checkpoint directory.")
    return str(value)


def write_predictions(
    path: Path, raw_test, logits: np.ndarray, names: list[str], data_args: DataArguments
) -> None:
    """One JSON line per test row: its text (or, for images, its row number), true label, prediction, score."""
    probabilities = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    feature = raw_test.features.get(data_args.label_column)
    true_name = feature.int2str if isinstance(feature, ClassLabel) else str
    with open(path, "w", encoding="utf-8") as f:
        for index, (row, probs) in enumerate(zip(raw_test, probabilities, strict=True)):
            best = int(probs.argmax())
            record = _input_record(row, data_args.text_column, index)
            if data_args.text_pair_column:
                record["text_pair"] = row[data_args.text_pair_column]
            record.update({"label": true_name(row[data_args.label_column]), "prediction": names[best]})
            record["score"] = round(float(probs[best]), 6)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_multitask_predictions(path: Path, data, logits: np.ndarray) -> None:
    """One JSON line per test row: the text (or row number), each task's true label (``None`` when missing) and
    prediction."""
    from ..multitask.predictions import decode_tasks

    decoded = iter(decode_tasks(data.tasks, logits))
    with open(path, "w", encoding="utf-8") as f:
        for source, raw in data.raw.items():  # test rows are in source order, as concatenated
            if "test" not in raw:
                continue
            for index, row in enumerate(raw["test"]):
                record = _input_record(row, data.input_columns[source], index)
                prediction = next(decoded)
                for name in data.source_tasks[source]:
                    record[name] = {"true": row[data.label_columns[name]], **prediction[name]}
                f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def _input_record(row: dict, column: str, index: int) -> dict:
    """The text of a row, or for an image row (not JSON material) its row number in the split."""
    value = row.get(column)
    return {"text": value} if isinstance(value, str) else {"row": index}
