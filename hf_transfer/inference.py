"""Predictions from a saved model: labels with scores for texts (or a file of texts), or for images.

Single-task text models label through ``transformers.pipeline("text-classification")`` (the recipe's
``max_length``, truncation); what the pipeline cannot do stays here: multi-task models (every task decoded by its
objective) and images (preprocessed as in evaluation, at the size the model trained on; paths or PIL images).

Example::

    >>> from hf_transfer import predict
    >>> predict("outputs/sentiment/minilm_full/20261129-101500", ["A gorgeous, moving film."])
    [{'text': 'A gorgeous, moving film.', 'label': 'positive', 'score': 0.98...}]
    >>> predict("outputs/vision/mobilenet_v2_mnist_full/20261129-120000", ["digit.png"])  # paths or PIL images
    [{'image': 'digit.png', 'label': '7', 'score': 0.99...}]
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import pipeline

from .data.images import ImageTransform
from .data.inputs import is_image_processor
from .data.loading import read_data_file
from .data.pil import to_pil
from .errors import DataError
from .modeling import load_processor, resolve_checkpoint, trained_run_folder
from .objectives import SavedRun, objective_class
from .wrappers import load_trained_classifier


class Predictor:
    """A loaded model and its tokenizer (or image processor) that label texts (or images) in batches, on GPU
    when there is one. Images are preprocessed as in evaluation, at the size the model trained on."""

    def __init__(
        self,
        model_dir: str | Path,
        device: str | None = None,
        max_length: int | None = None,
        revision: str | None = None,
    ):
        checkpoint = resolve_checkpoint(str(trained_run_folder(model_dir, revision)))
        saved = SavedRun.read(
            checkpoint.path
        )  # its recipe: the sizes it trained at; its objective decodes logits
        self.objective = objective_class(saved.task_objective)
        self.processor = load_processor(checkpoint)
        self.model = load_trained_classifier(checkpoint.path).eval()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.images = is_image_processor(self.processor)
        if self.images:
            self.transform = ImageTransform(self.processor, "image", saved.recipe.get("image_size"))
        else:
            self.max_length = max_length or saved.recipe.get("max_length") or self.processor.model_max_length
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        self.input_names = set(inspect.signature(base.forward).parameters)
        self.pipeline = None
        if not self.images and self.tasks is None and set(self.processor.model_input_names) <= self.input_names:
            self.pipeline = pipeline(
                "text-classification", model=self.model, tokenizer=self.processor, device=self.device
            )

    @property
    def tasks(self) -> list[dict] | None:
        """The task table of a multi-task model (``None`` for a single-task classifier)."""
        return getattr(self.model.config, "tasks", None)

    def _logits(self, batch: list) -> torch.Tensor:
        if self.images:
            pixels = self.transform({"image": [to_pil(item) for item in batch]})["pixel_values"]
            inputs = {"pixel_values": torch.stack(pixels)}
        else:
            inputs = self.processor(
                batch, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
            )
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k in self.input_names}
        return self.model(**inputs).logits.float().cpu()

    def _classify(self, batch: list[str], top_k: int) -> list[dict]:
        """Labels and scores from the text-classification pipeline, as the objective decodes them."""
        outputs = self.pipeline(
            batch, top_k=top_k, truncation=True, max_length=self.max_length, batch_size=len(batch)
        )
        records = []
        for ranked in outputs:
            record = {"label": ranked[0]["label"], "score": ranked[0]["score"]}
            if top_k > 1:
                record["top_k"] = [{"label": r["label"], "score": r["score"]} for r in ranked]
            records.append(record)
        return records

    def _key(self, item) -> tuple[str, object]:
        """How a record names its input: the text, or an image's path (its position for an in-memory image)."""
        if not self.images:
            return "text", item
        return "image", str(item) if isinstance(item, (str, Path)) else None

    @torch.inference_mode()
    def __call__(self, texts: Sequence, batch_size: int = 32, top_k: int = 1, progress: bool = False) -> list[dict]:
        """One record per text (or image: a path or PIL image): ``{"text"|"image", "label", "score"}`` (plus
        ``top_k``), or for a multi-task model ``{"text"|"image", <task>: {...}, …}`` with every task's prediction
        (the run's task objective decodes the logits). ``progress``: a progress bar over the batches (when there
        is more than one)."""
        results = []
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="predict", unit="batch", disable=not progress or len(starts) < 2, leave=False):
            batch = list(texts[start : start + batch_size])
            if self.pipeline is not None:
                decoded = self._classify(batch, top_k)
            else:
                decoded = self.objective.decode(self.model, self._logits(batch), top_k=top_k)
            for item, prediction in zip(batch, decoded, strict=True):
                key, name = self._key(item)
                results.append({key: name if name is not None else len(results), **prediction})
        return results


def read_texts(path: str | Path, text_column: str = "text") -> list[str]:
    """Texts from a .txt file (one per line) or a csv / tsv / json / jsonl / parquet file's ``text_column``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Input file {str(path)!r} does not exist.")
    if path.suffix == ".txt":
        try:
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as err:
            raise DataError(
                f"Input file {str(path)!r} is not UTF-8 text (position {err.start}): re-save it as UTF-8."
            ) from None
        if not lines:
            raise DataError(f"Input file {str(path)!r} holds no text: one text per line.")
        return lines
    table = read_data_file(str(path), "input", key="--file")
    if text_column not in table.column_names:
        raise DataError(
            f"Column {text_column!r} is not in {path}. Its columns are: {', '.join(table.column_names)}. "
            "Pass --text_column."
        )
    return [str(text) for text in table[text_column]]


def predict(
    model_dir: str | Path, texts: Sequence, batch_size: int = 32, top_k: int = 1, revision: str | None = None
) -> list[dict]:
    """Label ``texts`` (or, for an image model, images: paths or PIL images) with the model saved in
    ``model_dir`` (a run's folder, or the Hub repo it was pushed to, at ``revision``): one
    ``{"text"|"image", "label", "score"}`` per input."""
    return Predictor(model_dir, revision=revision)(texts, batch_size=batch_size, top_k=top_k)
