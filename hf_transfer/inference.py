"""Predictions from a saved model: labels with scores for texts or a file of texts.

Example::

    >>> from hf_transfer import predict
    >>> predict("outputs/sentiment/minilm_full/20261129-101500", ["A gorgeous, moving film."])
    [{'text': 'A gorgeous, moving film.', 'label': 'positive', 'score': 0.98...}]
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

import datasets
import torch
import yaml

from .data.loading import file_builder
from .errors import DataError
from .modeling import load_tokenizer, load_trained_classifier, resolve_checkpoint


class Predictor:
    """A loaded model and tokenizer that label texts in batches (on GPU when there is one)."""

    def __init__(self, model_dir: str | Path, device: str | None = None, max_length: int | None = None):
        checkpoint = resolve_checkpoint(str(model_dir))
        self.tokenizer = load_tokenizer(checkpoint)
        self.model = load_trained_classifier(checkpoint.path).eval()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.max_length = max_length or trained_max_length(checkpoint.path) or self.tokenizer.model_max_length
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        self.input_names = set(inspect.signature(base.forward).parameters)

    @property
    def tasks(self) -> list[dict] | None:
        """The task table of a multi-task model (``None`` for a single-task classifier)."""
        return getattr(self.model.config, "tasks", None)

    def _logits(self, batch: list[str]) -> torch.Tensor:
        inputs = self.tokenizer(
            batch, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k in self.input_names}
        return self.model(**inputs).logits.float().cpu()

    @torch.inference_mode()
    def __call__(self, texts: Sequence[str], batch_size: int = 32, top_k: int = 1) -> list[dict]:
        """One record per text: ``{"text", "label", "score"}`` (plus ``top_k``), or for a multi-task model
        ``{"text", <task>: {...}, …}`` with every task's prediction (see :func:`hf_transfer.multitask.decode_tasks`)."""
        if self.tasks is not None:
            from .multitask.predictions import decode_tasks

            results = []
            for start in range(0, len(texts), batch_size):
                batch = list(texts[start : start + batch_size])
                for text, tasks in zip(
                    batch, decode_tasks(self.tasks, self._logits(batch).numpy()), strict=True
                ):
                    results.append({"text": text, **tasks})
            return results
        id2label = self.model.config.id2label
        results = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            probabilities = self._logits(batch).softmax(dim=-1)
            scores, indices = probabilities.topk(min(top_k, probabilities.shape[-1]), dim=-1)
            for text, row_scores, row_indices in zip(batch, scores.tolist(), indices.tolist(), strict=True):
                record = {"text": text, "label": id2label[row_indices[0]], "score": row_scores[0]}
                if top_k > 1:
                    record["top_k"] = [
                        {"label": id2label[i], "score": s}
                        for i, s in zip(row_indices, row_scores, strict=True)
                    ]
                results.append(record)
        return results


def trained_max_length(model_dir: str | Path) -> int | None:
    """The ``max_length`` the model was trained with (from its saved recipe), so inference truncates alike."""
    recipe = Path(model_dir) / "recipe.yaml"
    if not recipe.is_file():
        return None
    return yaml.safe_load(recipe.read_text()).get("max_length")


def read_texts(path: str | Path, text_column: str = "text") -> list[str]:
    """Texts from a .txt file (one per line) or a csv / tsv / json / jsonl / parquet file's ``text_column``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Input file {str(path)!r} does not exist.")
    if path.suffix == ".txt":
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    builder, kwargs = file_builder(str(path))
    table = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    if text_column not in table.column_names:
        raise DataError(
            f"Column {text_column!r} is not in {path}. Its columns are: {', '.join(table.column_names)}. "
            "Pass --text_column."
        )
    return [str(text) for text in table[text_column]]


def predict(model_dir: str | Path, texts: Sequence[str], batch_size: int = 32, top_k: int = 1) -> list[dict]:
    """Label ``texts`` with the model saved in ``model_dir``: one ``{"text", "label", "score"}`` per text."""
    return Predictor(model_dir)(texts, batch_size=batch_size, top_k=top_k)
