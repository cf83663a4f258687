"""Candidates of a comparison: what each changes in the base recipe.

A candidate is named on the command line or listed in a recipe's ``compare:`` block:

- a **strategy preset** (``feature_extraction``, ``top_layers``, ``lora``, ``full``): the strategy and the learning
  rate of the shipped recipe of that strategy for the checkpoint's modality (``PRESETS``);
- any other **registered strategy type** (``patterns`` needs its options: give a mapping): ``strategy: {type: ...}``
  at the recipe's learning rate;
- an **adaptation type** (``source_only``, ``dann``, ``mcc``, ...) for a recipe with an ``adaptation:`` block;
- a **recipe** (a file or shipped name): its technique — every key but the model, data, output and seed keys,
  which stay the base recipe's, so every candidate runs on the same data and checkpoint;
- a **mapping** ``{name: lora_r16, strategy: {type: peft, method: lora, r: 16}, learning_rate: 5.0e-4}``: those
  recipe keys (``recipe: other.yaml`` starts it from another recipe's technique).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoConfig

from ..config import (
    RECIPES_DIR,
    DataArguments,
    ModelArguments,
    load_recipe_file,
    resolve_recipe_path,
    shipped_recipes,
)
from ..errors import HfTransferError, RecipeError, did_you_mean
from ..modeling import is_vision_config, resolve_checkpoint
from ..objectives.domain_adaptation import AdaptationArguments
from ..strategies import STRATEGIES
from ..wrappers.domain_adversarial import ALIGNMENTS

TEXT, IMAGE = "text", "image"
# The strategy and learning rate of the shipped recipes (configs/sentiment/minilm_*, configs/vision/mobilenet_v2_*)
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "feature_extraction": {
        TEXT: {"strategy": {"type": "feature_extraction", "cache_features": True}, "learning_rate": 3.0e-3},
        IMAGE: {"strategy": {"type": "feature_extraction", "cache_features": True}, "learning_rate": 5.0e-3},
    },
    "top_layers": {
        TEXT: {"strategy": {"type": "top_layers", "num_layers": 2}, "learning_rate": 2.0e-4},
        IMAGE: {"strategy": {"type": "top_layers", "num_layers": 4}, "learning_rate": 1.0e-3},
    },
    "lora": {
        TEXT: {"strategy": {"type": "peft", "method": "lora", "r": 8, "alpha": 16}, "learning_rate": 1.0e-3},
        IMAGE: {"strategy": {"type": "peft", "method": "lora", "r": 8, "alpha": 16}, "learning_rate": 3.0e-3},
    },
    "full": {
        TEXT: {"strategy": {"type": "full"}, "learning_rate": 1.0e-4},
        IMAGE: {"strategy": {"type": "full"}, "learning_rate": 1.0e-3},
    },
}
# Keys a candidate never changes: every candidate trains the same checkpoint on the same data
SHARED_KEYS = frozenset(
    {f.name for cls in (ModelArguments, DataArguments) for f in dataclasses.fields(cls)}
    | {f.name for f in dataclasses.fields(AdaptationArguments) if f.name.startswith("target_")}
    | {"output_dir", "seed", "data_seed", "compare", "tune", "multitask", "metrics", "metric_for_best_model"}
    | {"greater_is_better"}
)
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


def _technique(values: dict[str, Any]) -> dict[str, Any]:
    """A candidate's own keys: never a shared one, never a secret (records and the report are saved)."""
    return {k: v for k, v in values.items() if k not in SHARED_KEYS and not k.endswith("_token")}


@dataclass
class Candidate:
    """One technique of a comparison: its name and the recipe keys it sets over the base recipe."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    source: str = "preset"  # preset, strategy, adaptation, recipe or mapping

    def recipe_values(self, base: dict[str, Any]) -> dict[str, Any]:
        """The base recipe with this candidate's keys: the strategy replaced, an adaptation block merged."""
        values = dict(base)
        for key, value in self.overrides.items():
            if key == "adaptation" and isinstance(value, dict) and isinstance(base.get(key), dict):
                values[key] = {**base[key], **value}
            else:
                values[key] = value
        return values


def modality(base: dict[str, Any]) -> str:
    """``image`` or ``text``, from the base checkpoint's config (no weights are loaded)."""
    name = base.get("model_name_or_path")
    if not name:
        return TEXT
    try:
        config = AutoConfig.from_pretrained(resolve_checkpoint(str(name)).path)
    except (HfTransferError, OSError, ValueError):
        return TEXT  # the run itself reports an unresolvable checkpoint, with its fix
    return IMAGE if is_vision_config(config) else TEXT


def _preset(name: str, base: dict[str, Any], kind: str) -> dict[str, Any]:
    overrides = {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESETS[name][kind].items()}
    if name == "feature_extraction" and base.get("adaptation"):
        overrides["strategy"]["cache_features"] = False  # adaptation needs the backbone in the loop
    return overrides


def _from_recipe(reference: str) -> dict[str, Any]:
    return _technique(load_recipe_file(resolve_recipe_path(reference)))


def _shipped_names() -> set[str]:
    names = {str(p.relative_to(RECIPES_DIR).with_suffix("")) for p in shipped_recipes()}
    return names | {f"{n}.yaml" for n in names}


def _known_names(base: dict[str, Any]) -> list[str]:
    return [*PRESETS, *STRATEGIES, *(ALIGNMENTS if base.get("adaptation") else ())]


def resolve_candidate(entry: str | dict[str, Any], base: dict[str, Any], kind: str | None = None) -> Candidate:
    """A candidate from its name or mapping (see the module docstring). Raises :class:`RecipeError` naming the
    valid choices for an unknown name."""
    if isinstance(entry, dict):
        entry = dict(entry)
        name = entry.pop("name", None)
        if not name:
            raise RecipeError(
                f"Compare candidate {entry} has no `name`: add one, e.g. {{name: lora_r16, strategy: ...}}."
            )
        if not NAME.fullmatch(str(name)):
            raise RecipeError(
                f"Compare candidate name {name!r} must start with a letter and hold only letters, digits, _ . - "
                "(it names the candidate's folder), e.g. lora_r16."
            )
        start = _from_recipe(entry.pop("recipe")) if "recipe" in entry else {}
        shared = sorted(set(entry) & SHARED_KEYS)
        if shared:
            raise RecipeError(
                f"Compare candidate {name!r} sets {', '.join(shared)}: every candidate uses the base recipe's model, "
                "data, output folder and seeds. Change them in the base recipe instead."
            )
        return Candidate(str(name), _technique({**start, **entry}), "mapping")
    name = str(entry)
    if name in PRESETS:
        return Candidate(name, _preset(name, base, kind or modality(base)), "preset")
    if name in STRATEGIES:
        return Candidate(name, {"strategy": {"type": name}}, "strategy")
    if name in ALIGNMENTS:
        if not isinstance(base.get("adaptation"), dict):
            raise RecipeError(
                f"Compare candidate {name!r} is an adaptation type, but the recipe has no `adaptation:` block: "
                "compare adaptation methods on a domain-adaptation recipe (e.g. domain/minilm_movies_to_amazon)."
            )
        return Candidate(name, {"adaptation": {"type": name}}, "adaptation")
    if Path(name).is_file() or name in _shipped_names():  # a recipe's own errors (bad YAML) are its own
        return Candidate(Path(name).stem if Path(name).is_file() else name.split("/")[-1], _from_recipe(name), "recipe")
    raise RecipeError(
        f"Unknown compare candidate {name!r}.{did_you_mean(name, _known_names(base))} A candidate is a strategy "
        f"preset ({', '.join(PRESETS)}), a strategy type ({', '.join(STRATEGIES)}), an adaptation type (with an "
        "`adaptation:` recipe), a recipe file or shipped recipe name, or a mapping in the `compare:` block."
    )


def resolve_candidates(entries: list[str | dict[str, Any]], base: dict[str, Any]) -> list[Candidate]:
    """Every candidate, with unique names (a repeated name is refused: the folders would collide)."""
    kind = modality(base) if any(isinstance(e, str) and e in PRESETS for e in entries) else None  # once
    candidates = [resolve_candidate(entry, base, kind) for entry in entries]
    names = [c.name for c in candidates]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RecipeError(
            f"Compare candidates repeat the name(s) {', '.join(repeated)}: give each a distinct `name`."
        )
    return candidates
