"""Export a trained model as a complete, loadable folder and push it to the Hugging Face Hub.

:func:`export_folder` writes what loads and documents the model (weights as safetensors, config, tokenizer or
image processor, adapter files, ``merged/``, the model card rendered for the export, recipe, metrics, report
plots) and nothing else: no ``checkpoint-*`` folders, optimizer / scheduler / RNG state, training arguments or
pickles. :func:`push_to_hub` exports, then uploads the folder with ``huggingface_hub`` (``create_repo``,
``create_branch`` for a new ``revision``, ``upload_folder``). The token comes from the argument, ``HF_TOKEN`` or
``hf auth login``; it is never logged, and every error message is redacted.

Example::

    >>> from hf_transfer.publish import export_folder, push_to_hub
    >>> export_folder("outputs/run")                        # outputs/run/hub_export, loadable as it is
    >>> push_to_hub("outputs/run", "me/minilm-sentiment")   # the commit URL
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import yaml
from huggingface_hub import create_branch, create_repo, get_token, list_repo_files, upload_folder, whoami

from .cards import render_output_card
from .errors import OutputDirError, PushError, RecipeError
from .run_files import MERGED_DIR, METRICS_FILE, MODEL_CARD_FILE, RECIPE_FILE

logger = logging.getLogger(__name__)

EXPORT_DIR = "hub_export"
# What loads the model (at the top of the folder and in merged/).
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "adapter_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "chat_template.jinja",
    "preprocessor_config.json",
    "processor_config.json",
    "image_processor_config.json",
    "pooled_model.py",  # the modelling code of hf_transfer's pooled and multi-task models (`auto_map`)
    "multitask_model.py",
)
# What documents it (top of the folder only; the card is rendered again for the export).
DOCUMENT_FILES = (RECIPE_FILE, METRICS_FILE, "*.png")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# A real user access token's shape: `hf_` and 34 letters or digits (at least 30 taken), standing alone — not
# `hf_transfer_runs` or `model_hf_exp1`, which are paths and repo names.
TOKEN_PATTERN = re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])")


def is_export_file(path: str) -> bool:
    """Whether a repo path is of a kind an export writes, where it writes it: a model or document file at the top,
    or a model file in merged/ (so `docs/fig.png` or `onnx/model.safetensors` a user added are not)."""
    parts = path.split("/")
    if len(parts) == 1:
        return _matches(parts[0], (*MODEL_FILES, *DOCUMENT_FILES, MODEL_CARD_FILE))
    return len(parts) == 2 and parts[0] == MERGED_DIR and _matches(parts[1], MODEL_FILES)


def stale_files(remote: list[str], export: Path) -> list[str]:
    """Remote files an earlier push left that the new export no longer has (an old merged/, old plots): deleted in
    the same commit, so the repo mirrors the export. Files of other kinds are left alone."""
    uploaded = {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    return sorted(f for f in remote if f not in uploaded and is_export_file(f))


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with the given secrets (the tokens in use) and any other string of a real token's shape masked."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return TOKEN_PATTERN.sub("hf_***", text)


def _known_tokens(token: str | None) -> list[str]:
    tokens = [token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")]
    with contextlib.suppress(Exception):  # an unreadable token file: nothing more to redact
        tokens.append(get_token())
    return [t for t in tokens if t]


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(Path(name).match(pattern) for pattern in patterns)


def _copy_model_files(source: Path, target: Path) -> list[str]:
    copied = []
    for path in sorted(source.iterdir()):
        if path.is_file() and _matches(path.name, MODEL_FILES) and not path.name.endswith(PICKLE_SUFFIXES):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.name)
            copied.append(path.name)
    return copied


def _write_recipe(source: Path, target: Path) -> None:
    """The recipe, without any ``*_token`` value a recipe may hold (``hub_token``)."""
    values = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    for key in [k for k in values if k.endswith("_token")]:
        values.pop(key)
    target.write_text(yaml.safe_dump(values, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _looks_like_export(path: Path) -> bool:
    """Whether a folder holds only what :func:`export_folder` writes (so replacing it loses nothing else)."""
    files = [p for p in path.rglob("*") if p.is_file()]
    allowed = (*MODEL_FILES, *DOCUMENT_FILES, MODEL_CARD_FILE)
    return bool(files) and all(
        _matches(p.name, allowed) and p.relative_to(path).parts[0] in (p.name, MERGED_DIR) for p in files
    )


def write_export_card(
    output_dir: Path, export: Path, repo_id: str | None = None, model_name: str | None = None
) -> None:
    """The export's model card: rendered again so that its snippet loads ``repo_id`` (or the export folder)."""
    if (output_dir / RECIPE_FILE).is_file() and (output_dir / METRICS_FILE).is_file():
        card = render_output_card(
            output_dir,
            load_path=export.resolve(),
            repo_id=repo_id,
            model_name=model_name or (repo_id.split("/")[-1] if repo_id else output_dir.resolve().name),
        )
        card.save(export / MODEL_CARD_FILE)
    elif (output_dir / MODEL_CARD_FILE).is_file():
        logger.warning(
            "%s has no %s / %s (not written by `hf-transfer train`?): its README.md is exported unchanged.",
            output_dir,
            RECIPE_FILE,
            METRICS_FILE,
        )
        shutil.copy2(output_dir / MODEL_CARD_FILE, export / MODEL_CARD_FILE)


def export_folder(
    output_dir: str | Path,
    export_dir: str | Path | None = None,
    overwrite: bool = False,
    repo_id: str | None = None,
) -> Path:
    """Write the upload folder of a trained model (default ``<output_dir>/hub_export``) and return it.

    It holds only what loads and documents the model: safetensors weights, config, tokenizer or image-processor
    files, adapter files (with the base config hf_transfer's own loader reads), ``merged/`` when present, the
    model card (rendered for the export: its snippet loads ``repo_id`` when given, else this folder),
    ``recipe.yaml`` (without tokens), ``metrics.json`` and report plots (``*.png``). Never ``checkpoint-*``,
    optimizer / scheduler / RNG state, ``training_args`` or a pickle.

    A non-empty existing export folder is an error unless ``overwrite=True``, which replaces it.
    """
    output_dir = Path(output_dir)
    if not (output_dir / "config.json").is_file() and not (output_dir / "adapter_config.json").is_file():
        raise OutputDirError(
            f"{output_dir} holds no trained model (no config.json / adapter_config.json): pass the output folder "
            "of `hf-transfer train`."
        )
    export = Path(export_dir) if export_dir is not None else output_dir / EXPORT_DIR
    if export.resolve() == output_dir.resolve():
        raise OutputDirError("The export folder must differ from the output folder it is exported from.")
    if export.exists() and any(export.iterdir()):
        if not _looks_like_export(export):
            raise OutputDirError(
                f"Refusing to write the export into {export}: it is not empty and holds files an export never "
                "writes. Choose another export folder."
            )
        if not overwrite:
            raise OutputDirError(
                f"The export folder {export} already holds an export: pass overwrite=True to replace it "
                "(`hf-transfer push` does), or choose another export folder."
            )
        logger.warning("Replacing the previous export in %s.", export)
        shutil.rmtree(export)
    export.mkdir(parents=True, exist_ok=True)

    copied = _copy_model_files(output_dir, export)
    if not any(name.endswith(".safetensors") for name in copied):
        shutil.rmtree(export)
        raise OutputDirError(
            f"{output_dir} has no safetensors weights (model.safetensors / adapter_model.safetensors): only "
            "safetensors are exported, never pickled weights. Save the model with safe_serialization."
        )
    if (output_dir / MERGED_DIR / "config.json").is_file():
        _copy_model_files(output_dir / MERGED_DIR, export / MERGED_DIR)
    if (output_dir / RECIPE_FILE).is_file():
        _write_recipe(output_dir / RECIPE_FILE, export / RECIPE_FILE)
    if (output_dir / METRICS_FILE).is_file():
        shutil.copy2(output_dir / METRICS_FILE, export / METRICS_FILE)
    for plot in sorted(output_dir.glob("*.png")):
        shutil.copy2(plot, export / plot.name)
    write_export_card(output_dir, export, repo_id)
    logger.info("Exported %s to %s", output_dir, export)
    return export


def retry_command(
    output_dir: str | Path,
    repo_id: str,
    private: bool | None = False,
    revision: str | None = None,
    commit_message: str | None = None,
    export_dir: str | Path | None = None,
) -> str:
    """The ``hf-transfer push`` command that repeats a push."""
    parts = ["hf-transfer", "push", str(output_dir), "--repo-id", repo_id]
    if private:
        parts.append("--private")
    if revision:
        parts += ["--revision", revision]
    if commit_message:
        parts += ["--commit-message", commit_message]
    if export_dir is not None:
        parts += ["--export-dir", str(export_dir)]
    return shlex.join(parts)


def _push_error(problem: str, export: Path, retry: str, tokens: list[str]) -> PushError:
    return PushError(
        redact(
            f"{problem} Nothing is lost: the export folder is intact at {export}. Retry with: {retry}",
            *tokens,
        )
    )


def _hint(err: Exception, repo_id: str, token: str | None) -> str:
    """What to do about a failed push, from the Hub's answer: offline mode, a refused token, another's repo."""
    if huggingface_hub.constants.is_offline_mode():
        return " HF_HUB_OFFLINE is set (or the Hub was unreachable when the run started): unset it."
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status == 401:
        return " The Hub refused the token: set HF_TOKEN to a valid token with write access (or `hf auth login`)."
    if status == 403:
        user = None
        with contextlib.suppress(Exception):  # only to name the user; the push failed anyway
            user = whoami(token=token).get("name")
        namespace = repo_id.split("/")[0]
        own = f" ({user}/{repo_id.split('/')[-1]})" if user else ""
        who = f"The token's user {user!r}" if user else "This token"
        return (
            f" {who} may not write to {namespace!r}: push to a repo of your own{own} or of an organisation you "
            "can write to, or use a token with write access there."
        )
    return ""


def check_repo_id(repo_id: str) -> None:
    """Refuse what is not a model repo id before anything is exported: a dataset or Space repo (``datasets/…``,
    ``spaces/…``), or a URL."""
    kind = repo_id.split("/")[0] if repo_id.count("/") == 2 else None
    if "://" in repo_id or kind in ("datasets", "spaces"):
        name = "/".join(repo_id.rstrip("/").split("/")[-2:])
        what = {"datasets": "a dataset repo", "spaces": "a Space"}.get(kind or "", "a URL")
        raise PushError(
            f"--repo-id {repo_id!r} names {what}: hf-transfer push uploads a model, to a model repo id such as "
            f"{name!r} (namespace/name, no URL and no datasets/ or spaces/ prefix)."
        )


def push_to_hub(
    output_dir: str | Path,
    repo_id: str,
    private: bool | None = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    dry_run: bool = False,
    export_dir: str | Path | None = None,
) -> str | Path:
    """Export ``output_dir`` (see :func:`export_folder`) and upload it to the Hub repo ``repo_id``.

    Creates the repo if needed (``private``), the branch ``revision`` if given and missing, then uploads the
    export folder in one commit. Returns the commit URL, or with ``dry_run`` the export folder (nothing is
    uploaded). A previous export in the export folder is replaced.

    The token is ``token``, else ``HF_TOKEN`` or the one saved by ``hf auth login``. Raises
    :class:`~hf_transfer.errors.PushError` (token redacted, the export folder intact, the retry command given)
    when there is no token or the Hub refuses.
    """
    output_dir = Path(output_dir)
    check_repo_id(repo_id)
    export = export_folder(output_dir, export_dir, overwrite=True, repo_id=repo_id)
    if dry_run:
        logger.info("Dry run: %s is ready to upload to %s; nothing was uploaded.", export, repo_id)
        return export
    tokens = _known_tokens(token)
    retry = retry_command(output_dir, repo_id, private, revision, commit_message, export_dir)
    if token is None and get_token() is None:
        raise _push_error(
            f"No Hugging Face token to push {output_dir} to {repo_id}: set HF_TOKEN (a token with write access) "
            "or run `hf auth login`.",
            export,
            retry,
            tokens,
        )
    message = commit_message or f"Upload {output_dir.resolve().name} with hf_transfer"
    logger.info("Uploading %s to %s%s", export, repo_id, f" (revision {revision})" if revision else "")
    failure = None
    try:
        url = create_repo(repo_id, private=private, exist_ok=True, token=token)
        canonical = getattr(url, "repo_id", None) or repo_id
        if canonical != repo_id:  # `name` became `user/name`: the card's snippet names the full id
            write_export_card(output_dir, export, canonical)
        if revision and revision != "main":
            create_branch(canonical, branch=revision, exist_ok=True, token=token)
        try:  # what an earlier push left (a new repo or branch has nothing to compare)
            remote = list_repo_files(canonical, revision=revision, token=token)
        except Exception:  # noqa: BLE001 — no such revision yet
            remote = []
        stale = stale_files(remote, export)
        commit = upload_folder(
            folder_path=str(export),
            repo_id=canonical,
            revision=revision,
            commit_message=message,
            token=token,
            delete_patterns=[glob.escape(f) for f in stale]
            or None,  # exact paths: the repo mirrors the export
        )
    except Exception as err:  # any Hub, network or offline-mode error: reported below, without its traceback
        failure = f"{type(err).__name__}: {err}"
        hint = _hint(err, repo_id, token)
    if failure is not None:  # raised outside the handler: the original error (and its text) is not chained
        raise _push_error(
            f"Pushing {output_dir} to {repo_id} failed ({failure}).{hint}", export, retry, tokens
        )
    commit_url = str(getattr(commit, "commit_url", None) or commit)
    logger.info("Pushed to %s", redact(commit_url, *tokens))
    return commit_url


def take_over_push(args) -> dict[str, Any] | None:
    """For a recipe with ``push_to_hub: true``: the settings of the one push :func:`hf_transfer.train` makes
    after saving, with the Trainer's own pushing turned off (it would create the repo at start-up and push
    checkpoints). Checked before training: ``hub_model_id`` is set and a token is available."""
    if not getattr(args, "push_to_hub", False):
        return None
    if not args.hub_model_id:
        raise RecipeError(
            "push_to_hub: true needs hub_model_id (the Hub repo, e.g. your-name/minilm-sentiment); or drop "
            "push_to_hub and push later with `hf-transfer push OUTPUT_DIR --repo-id ID`."
        )
    check_repo_id(args.hub_model_id)
    if not args.hub_token and get_token() is None:
        raise PushError(
            "push_to_hub: true but no Hugging Face token: set HF_TOKEN (a token with write access) or run "
            "`hf auth login` before training, or drop push_to_hub and push later with "
            "`hf-transfer push OUTPUT_DIR --repo-id ID`."
        )
    settings = {
        "repo_id": args.hub_model_id,
        "private": args.hub_private_repo,
        "revision": args.hub_revision,
        "commit_message": getattr(args, "hub_commit_message", None),
        "token": args.hub_token,
    }
    args.push_to_hub = False
    logger.info(
        "push_to_hub: the export of this run goes to %s once, after training and saving (the Trainer's own "
        "pushes are off).",
        args.hub_model_id,
    )
    return settings
