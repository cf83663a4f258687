"""How a Hub user loads each kind of pushed result, run alike on a local export folder and, in a fresh process with
``HF_ENDPOINT`` pointing at the test Hub, on the repo id (``python tests/hub_loading.py REQUEST.json``).

:func:`stock_outputs` uses stock libraries only (transformers, peft, huggingface_hub): ``from_pretrained`` with the
class the README's export table names, ``pipeline(model=...)`` for single-task kinds, and the card through
``ModelCard.load`` and the eval-results helpers. :func:`hf_transfer_outputs` is ``hf_transfer.predict``. As a
script, it first runs the card's own snippet and the stock loads where ``import hf_transfer`` fails, then lets it
import and predicts.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import json
import sys
from pathlib import Path

ADAPTERS = ("lora", "pooled_lora", "multitask_lora", "image_lora")
IMAGES = ("image", "image_lora")
REMOTE_CODE = ("pooled", "pooled_lora", "multitask", "multitask_lora")
TEXTS = ["a fine, moving film", "the plot is a mess"]


class BlockHfTransfer(importlib.abc.MetaPathFinder):
    """``import hf_transfer`` fails while this finder is installed."""

    def find_spec(self, name, path, target=None):
        if name == "hf_transfer" or name.startswith("hf_transfer."):
            raise ImportError("hf_transfer is blocked: stock libraries must load this")


def _model(source: str, kind: str, revision: str | None):
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForImageClassification,
        AutoModelForSequenceClassification,
    )

    options = {"revision": revision} if revision else {}
    if kind in ("lora", "image_lora"):  # a stock PEFT folder: the base fetched by its id, the adapter on it
        from peft import AutoPeftModel, AutoPeftModelForSequenceClassification

        config = AutoConfig.from_pretrained(source, **options)
        auto = AutoPeftModel if kind == "image_lora" else AutoPeftModelForSequenceClassification
        return auto.from_pretrained(
            source, id2label=config.id2label, label2id=config.label2id, ignore_mismatched_sizes=True, **options
        )
    if kind.startswith("multitask"):
        return AutoModel.from_pretrained(source, trust_remote_code=True, **options)
    auto = AutoModelForImageClassification if kind in IMAGES else AutoModelForSequenceClassification
    return auto.from_pretrained(source, trust_remote_code=kind in REMOTE_CODE, **options)


def model_inputs(source: str, kind: str, images: list[str], revision: str | None):
    from PIL import Image
    from transformers import AutoImageProcessor, AutoTokenizer

    options = {"revision": revision} if revision else {}
    if kind in IMAGES:
        processor = AutoImageProcessor.from_pretrained(source, **options)
        return processor, dict(processor([Image.open(p).convert("RGB") for p in images], return_tensors="pt"))
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=kind in REMOTE_CODE, **options)
    return tokenizer, dict(tokenizer(TEXTS, padding=True, return_tensors="pt"))


def local_copy(source: str, kind: str, revision: str | None) -> str:
    """Adapters on hf_transfer's own heads load from a downloaded copy, as their card says: from a Hub id,
    transformers would take the adapter for one on the plain base model it names."""
    if kind in ("pooled_lora", "multitask_lora") and not Path(source).is_dir():
        from huggingface_hub import snapshot_download

        return snapshot_download(source, revision=revision)
    return source


def stock_outputs(source: str, kind: str, images: list[str], revision: str | None = None) -> dict:
    """Logits, pipeline predictions, the merged model's logits, the labels and the card, as plain values (stock
    libraries only, for a Hub repo id)."""
    import torch
    from huggingface_hub import ModelCard
    from transformers import AutoModelForSequenceClassification, pipeline

    card = card_summary(ModelCard.load(_card_file(source, revision)))
    source = local_copy(source, kind, revision)
    model = _model(source, kind, revision).eval()
    processor, inputs = model_inputs(source, kind, images, revision)
    with torch.no_grad():
        out = {"logits": model(**inputs).logits.tolist(), "model_class": type(model).__name__}
    options = {"revision": revision} if revision else {}
    if kind in IMAGES:
        task, rows = "image-classification", images
    else:
        task, rows = "text-classification", TEXTS
    if not kind.startswith("multitask"):
        if kind in ("lora", "image_lora"):  # a PEFT folder holds no base weights: the pipeline takes PEFT's model
            served = pipeline(task, model=model, **{"image_processor" if kind in IMAGES else "tokenizer": processor})
        else:
            served = pipeline(task, model=source, trust_remote_code=kind in REMOTE_CODE, **options)
        out["pipeline"] = [r[0] if isinstance(r, list) else r for r in served(rows)]  # the top label of each row
    if kind == "lora":
        merged = AutoModelForSequenceClassification.from_pretrained(  # as the card says
            source, subfolder="merged", adapter_kwargs={"subfolder": "merged"}, **options
        ).eval()
        with torch.no_grad():
            out["merged_logits"] = merged(**inputs).logits.tolist()
        out["merged_class_module"] = type(merged).__module__
    out["id2label"] = {str(k): v for k, v in model.config.id2label.items()}
    out["card"] = card
    return out


def _card_file(source: str, revision: str | None) -> str:
    """The card's local path: in the folder, or downloaded from the repo at ``revision``."""
    from huggingface_hub import hf_hub_download

    if Path(source).is_dir():
        return str(Path(source) / "README.md")
    return hf_hub_download(source, "README.md", revision=revision)


def card_summary(card) -> dict:
    """A card's model-index read back by the eval-results helpers, and its text."""
    from huggingface_hub.repocard_data import model_index_to_eval_results

    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    return {
        "name": name,
        "results": sorted([r.dataset_config, r.dataset_split, r.metric_type, r.metric_value] for r in results),
        "text": card.text,
    }


def hf_transfer_outputs(source: str, kind: str, images: list[str], revision: str | None = None) -> list[dict]:
    """``hf_transfer.predict`` on the texts (or images), labels and scores."""
    from hf_transfer import predict

    rows = predict(source, images if kind in IMAGES else TEXTS, revision=revision)
    return [{k: v for k, v in row.items() if k in ("label", "score", "tasks")} for row in rows]


def _snippet(source: str, revision: str | None) -> str:
    import re

    from huggingface_hub import ModelCard

    card = ModelCard.load(_card_file(source, revision))
    return re.search(r"```python\n(.*?)```", card.text, re.S).group(1)


def main(request_file: str) -> None:
    request = json.loads(Path(request_file).read_text())
    source, kind, images, revision = request["source"], request["kind"], request["images"], request.get("revision")
    blocker = BlockHfTransfer()
    sys.meta_path.insert(0, blocker)
    result = {}
    if request.get("snippet", True) and revision is None:  # the card's snippet names the repo at main
        code = _snippet(source, revision)
        assert f'"{source}")' in code or f'path = "{source}"' in code, code
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "card-snippet", "exec"), {"__name__": "__snippet__"})
        result["snippet_printed"] = printed.getvalue()
    result["stock"] = stock_outputs(source, kind, images, revision)
    sys.meta_path.remove(blocker)
    result["predict"] = hf_transfer_outputs(source, kind, images, revision)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
