"""Licences in model cards: the identifiers the Hub accepts, and a base model's declared licence.

Example::

    >>> base_model_licence("sentence-transformers/all-MiniLM-L6-v2")   # its card, or the known value offline
    'apache-2.0'
    >>> "bsd-3-clause" in HUB_LICENCES
    True
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard, try_to_load_from_cache

from .data.describe import is_hub_id
from .modeling.backbones import OFFLINE_CHECKPOINTS
from .modeling.prepared import PREPARED_CHECKPOINTS, prepared_checkpoint_path

# Licence identifiers the Hub accepts in the `license` metadata field (a base model's declared licence outside
# this list is named in the text, never put in the metadata).
HUB_LICENCES = frozenset(
    {
        "apache-2.0",
        "mit",
        "openrail",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0",
        "bigcode-openrail-m",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "c-uda",
        "cc",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "eupl-1.1",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "lppl-1.3c",
        "ms-pl",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "openrail++",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
        "lgpl-lr",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "gemma",
        "other",
    }
)
# Base models whose licence is known here even when their card is not at hand (e.g. offline, from a package).
BASE_MODEL_LICENCES = {"sentence-transformers/all-MiniLM-L6-v2": "apache-2.0"}


def _card_licence(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        return ModelCard.load(path).data.to_dict().get("license")
    except Exception:  # not a card, or broken metadata: no licence known from it
        return None


def base_model_licence(base_model: str, source: str | None = None) -> str | None:
    """The base model's licence as its card declares it (local folder, installed package, prepared conversion or
    the Hub cache; never the network), else a known one, else None."""
    readme: Path | None = None
    if base_model in PREPARED_CHECKPOINTS:
        prepared = prepared_checkpoint_path(base_model)
        readme = prepared / "README.md" if prepared else None
        declared = _card_licence(readme)
        return declared or PREPARED_CHECKPOINTS[base_model].licence.split()[0].lower()
    if Path(base_model).expanduser().is_dir():
        readme = Path(base_model).expanduser() / "README.md"
    elif source and source.startswith("package:") and base_model in OFFLINE_CHECKPOINTS:
        folder = OFFLINE_CHECKPOINTS[base_model].path()
        readme = folder / "README.md" if folder else None
    elif is_hub_id(base_model):
        cached = try_to_load_from_cache(base_model, "README.md")
        readme = Path(cached) if isinstance(cached, str) else None
    return _card_licence(readme) or BASE_MODEL_LICENCES.get(base_model)
