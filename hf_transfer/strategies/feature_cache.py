"""Feature caching: run a frozen backbone once per split, then train the head on the pooled features.

Extraction sorts rows by length so that batches carry little padding; the features come back in the original
row order, as a ``datasets.Dataset`` with ``features`` and ``labels`` columns, kept in memory or on disk.

Example::

    >>> cached = cache_features(model, encoded_splits, collator, batch_size=128)
    >>> cached["train"].column_names
    ['features', 'labels']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, DatasetDict, load_from_disk
from tqdm.auto import tqdm

from ..modeling.pooled import PooledClassifier

logger = logging.getLogger(__name__)


@torch.inference_mode()
def extract_features(
    model: PooledClassifier,
    dataset: Dataset,
    collator,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    dtype: str = "float32",
    progress: str | None = None,
) -> np.ndarray:
    """Pooled backbone features for every row of a tokenised dataset, shape (rows, hidden), in row order.

    ``dtype`` other than float32 runs the backbone under autocast in that precision. ``progress``: a progress
    bar's description (None: no bar).
    """
    model.eval().to(device)
    device_type = torch.device(device).type
    precision = torch.autocast(device_type, dtype=getattr(torch, dtype), enabled=dtype != "float32")
    inputs = dataset.remove_columns([c for c in dataset.column_names if c == "labels"])
    name = model.main_input_name
    lengths = np.array([len(x) for x in inputs[name]]) if name == "input_ids" else np.zeros(len(inputs))
    order = np.argsort(-lengths, kind="stable")
    features = None
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=progress, disable=progress is None, unit="batch", leave=False):
        indices = order[start : start + batch_size]
        batch = collator([inputs[int(i)] for i in indices])
        batch = {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        with precision:
            pooled = model.extract_features(**batch).float().cpu().numpy()
        if features is None:
            features = np.empty((len(inputs), pooled.shape[1]), dtype=np.float32)
        features[indices] = pooled
    return features


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes and bytes): what its outputs depend on."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def processor_digest(processor) -> str:
    """sha256 of a tokenizer (its full serialisation and special-token settings) or an image processor's config."""
    if processor is None:
        return ""
    backend = getattr(processor, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str() + json.dumps(
            {"class": type(processor).__name__, "padding_side": processor.padding_side}, sort_keys=True
        )
    else:
        text = json.dumps(processor.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def feature_cache_key(
    model: PooledClassifier,
    dataset: Dataset,
    dtype: str,
    processor=None,
    max_length: int | None = None,
    weights: str | None = None,
) -> str:
    """The cache key of one split's features: everything they depend on — the rows (the dataset fingerprint), the
    backbone's weights (content hash, so a checkpoint retrained in place or another revision misses), the
    tokenizer or image processor, ``max_length``, the pooling and the extraction dtype."""
    identity = {
        "fingerprint": dataset._fingerprint,
        "weights": weights or weights_digest(model.backbone),
        "processor": processor_digest(processor),
        "max_length": max_length,
        "pooling": model.config.pooling,
        "backbone": model.config.backbone,
        "dtype": dtype,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_features(
    model: PooledClassifier,
    splits: DatasetDict,
    collator,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
    dtype: str = "float32",
    processor=None,
    max_length: int | None = None,
    progress: bool = False,
) -> tuple[DatasetDict, float]:
    """``features`` + ``labels`` datasets for every split (reused from ``cache_dir`` when computed before with
    the same :func:`feature_cache_key`). Run it on the main process first when several processes share a
    ``cache_dir`` (the pipeline does), so that one writes and the others read.

    Returns the datasets and the seconds spent extracting. ``progress``: a progress bar per split.
    """
    cached, seconds = {}, 0.0
    weights = weights_digest(model.backbone) if cache_dir else None  # once for every split
    for split, dataset in splits.items():
        key = feature_cache_key(model, dataset, dtype, processor, max_length, weights) if cache_dir else None
        path = Path(cache_dir) / f"{split}-{key}" if cache_dir else None
        if path is not None and path.is_dir():
            cached[split] = load_from_disk(str(path))
            logger.info("Loaded cached %s features from %s", split, path)
            continue
        start = time.perf_counter()
        bar = f"Feature extraction ({split})" if progress else None
        features = extract_features(model, dataset, collator, batch_size, device, dtype, bar)
        columns = {"features": features, "labels": np.asarray(dataset["labels"])}
        cached[split] = Dataset.from_dict(columns).with_format("torch")
        seconds += time.perf_counter() - start
        logger.info("Extracted %s features %s in %.1f s", split, features.shape, time.perf_counter() - start)
        if path is not None:  # written beside, then renamed: a crashed write never looks like a cache
            partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
            cached[split].save_to_disk(str(partial))
            os.replace(partial, path)
    return DatasetDict(cached), seconds
