"""A recipe's data described for a model card: Hub ids only in the metadata, never a local path.

Example::

    >>> describe_dataset({"dataset_name": "rotten_tomatoes_snippets"})[1][:40]
    'The hf_transfer built-in dataset `rotten'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .builtin_datasets import BUILTIN_DATASETS


def is_hub_id(name: str | None) -> bool:
    """Whether a model name is a Hub id (``owner/name`` or ``name``) rather than a path on this machine."""
    if not name or name.startswith((".", "/", "~")) or name.count("/") > 1:
        return False
    return not Path(name).expanduser().exists()


def describe_dataset(data: dict[str, Any], prefix: str = "") -> tuple[list[str] | None, str]:
    """Card metadata ``datasets`` (Hub ids only: local and built-in data would break it) and a description.

    ``prefix="target_"`` describes a domain-adaptation target from the ``target_*`` recipe keys.
    """
    name, config = data.get(prefix + "dataset_name"), data.get(prefix + "dataset_config_name")
    degrade = data.get(prefix + "degrade")
    degraded = (
        f" Images degraded with {', '.join(degrade)} (severity {data.get(prefix + 'degrade_severity')})."
        if degrade
        else ""
    )
    if name in BUILTIN_DATASETS:
        spec = BUILTIN_DATASETS[name]
        return None, (
            f"The hf_transfer built-in dataset `{name}` (config `{config or spec.default_config}`): "
            f"{spec.description} Loaded offline with `hf_transfer.load_builtin_dataset`.{degraded}"
        )
    if name and is_hub_id(name):
        return [name], f"The Hub dataset [{name}](https://huggingface.co/datasets/{name})" + (
            f", config `{config}`." if config else "."
        ) + degraded
    files = [
        Path(data[prefix + k]).name
        for k in ("train_file", "validation_file", "test_file")
        if data.get(prefix + k)
    ]
    source = f"local files ({', '.join(files)})" if files else f"a local dataset ({Path(str(name)).name})"
    return None, f"Private data: {source}; not published with the model.{degraded}"


def dataset_reference(data: dict[str, Any], prefix: str = "", modality: str = "text") -> dict[str, Any]:
    """The ``model-index`` dataset of a recipe's data: its Hub id, or for built-in / local data a descriptive
    name and its format (never a local path)."""
    name, config = data.get(prefix + "dataset_name"), data.get(prefix + "dataset_config_name")
    if name in BUILTIN_DATASETS:
        config = config or BUILTIN_DATASETS[name].default_config
        return {
            "dataset_type": name,
            "dataset_name": f"{name} (hf_transfer built-in)",
            "dataset_config": config,
        }
    if name and is_hub_id(name):
        return {"dataset_type": name, "dataset_name": name, "dataset_config": config}
    files = [data[prefix + k] for k in ("train_file", "validation_file", "test_file") if data.get(prefix + k)]
    if files:
        suffix = Path(files[0]).suffix.lstrip(".").lower()
        kind = {"jsonl": "json", "tsv": "csv", "txt": "text"}.get(suffix, suffix)
        return {"dataset_type": kind, "dataset_name": "local files", "dataset_config": None}
    kind = "imagefolder" if modality == "image" else "local"
    return {
        "dataset_type": kind,
        "dataset_name": f"local dataset {Path(str(name)).name}",
        "dataset_config": None,
    }
