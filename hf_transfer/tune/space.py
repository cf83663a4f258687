"""A search space over recipe keys, as a recipe's ``tune: {search_space: ...}`` block writes it.

Each key is a recipe key (``learning_rate``, ``warmup_steps``, ``layerwise_lr_decay``) or an option of a nested
block (``strategy.r``, ``strategy.alpha``, ``strategy.num_layers``, ``adaptation.domain_loss_weight``); its value
says what to draw::

    search_space:
      learning_rate: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
      strategy.r: {type: int, low: 4, high: 32, step: 4}
      strategy.alpha: [8, 16, 32]            # a list: one of these (categorical)

The model, tokenizer and data keys stay fixed: every trial is scored on the same validation set.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from ..config import DataArguments, ModelArguments, TransferTrainingArguments, field_names
from ..errors import RecipeError, did_you_mean
from ..typed_values import coerce

KINDS = ("float", "int", "categorical")
NESTED = ("strategy", "adaptation")
FIXED_KEYS = frozenset(
    {f.name for cls in (ModelArguments, DataArguments) for f in dataclasses.fields(cls)}
    | {"output_dir", "seed", "stages", "multitask"}
)
TRAINING_KEYS = frozenset(f.name for f in dataclasses.fields(TransferTrainingArguments))
# Keys the trial's model cannot carry: they change the data path, the sampler, the collator or the callbacks,
# which one Trainer keeps for the whole search
NOT_PER_TRIAL = {
    "strategy.type": "the strategy type",
    "strategy.cache_features": "the feature cache",
    "adaptation.type": "the adaptation type",
    "adaptation.source_fraction": "the domain-mixing sampler",
    "adaptation.mlm_probability": "UDALM's masking collator",
    "adaptation.lambda_schedule": "the λ schedule callback",
    "adaptation.lambda_max": "the λ schedule callback",
    "adaptation.lambda_gamma": "the λ schedule callback",
    "class_weight": "the loss built with the data",
    "eval_files": "the evaluation sets",
}


@dataclass
class Parameter:
    """One searched key: ``float`` / ``int`` between ``low`` and ``high`` (``log`` scale, ``step``) or one of
    ``choices``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list | None = None

    @property
    def trains(self) -> bool:
        """A TrainingArguments field (the Trainer sets it per trial); else the model is built with it."""
        return self.name in TRAINING_KEYS

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, self.choices)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def extremes(self) -> list[Any]:
        """Values that bound the range (checked against the recipe before any trial)."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]


def _number(value: Any, key: str) -> float:
    converted = coerce(value, float, key, "the search space")
    return float(converted)


def parse_parameter(name: str, spec: Any) -> Parameter:
    head = name.split(".", 1)[0]
    if "." in name and head not in NESTED:
        raise RecipeError(
            f"Search-space key {name!r}: only {', '.join(NESTED)} options are nested (strategy.r); others are recipe "
            "keys (learning_rate)."
        )
    if "." not in name and name not in field_names():
        raise RecipeError(f"Search-space key {name!r} is not a recipe key.{did_you_mean(name, field_names())}")
    if name in NOT_PER_TRIAL:
        raise RecipeError(
            f"Search-space key {name!r} changes {NOT_PER_TRIAL[name]}, which one Trainer keeps for the whole search: "
            "compare such choices with `hf-transfer compare` (e.g. --candidates lora full), and search the "
            "options of one of them."
        )
    if head in FIXED_KEYS or name in FIXED_KEYS:
        raise RecipeError(
            f"Search-space key {name!r} changes the model or the data, which stay fixed in a search (every trial is "
            "scored on the same validation set): search training, strategy or adaptation keys."
        )
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict) or spec.get("type") not in KINDS:
        raise RecipeError(
            f"Search-space key {name!r}: give {{type: float | int | categorical, ...}} or a list of choices, got "
            f"{spec!r}; e.g. {{type: float, low: 1.0e-5, high: 1.0e-3, log: true}}."
        )
    kind = spec["type"]
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise RecipeError(f"Search-space key {name!r}: a categorical needs a non-empty `choices` list.")
        return Parameter(name, kind, choices=choices)
    if "low" not in spec or "high" not in spec:
        raise RecipeError(f"Search-space key {name!r}: a {kind} needs `low` and `high`.")
    low, high = _number(spec["low"], f"{name}.low"), _number(spec["high"], f"{name}.high")
    log = bool(spec.get("log", False))
    if low >= high or (log and low <= 0):
        raise RecipeError(
            f"Search-space key {name!r}: needs low < high{' and low > 0 on a log scale' if log else ''}, got "
            f"low {low:g}, high {high:g}."
        )
    step = _number(spec["step"], f"{name}.step") if spec.get("step") is not None else None
    if step is not None and log:
        raise RecipeError(f"Search-space key {name!r}: `step` and `log` cannot be combined (Optuna's rule).")
    return Parameter(name, kind, low, high, log, step)


def parse_space(spec: Any) -> list[Parameter]:
    if not isinstance(spec, dict) or not spec:
        raise RecipeError(
            "The search space is empty: give `tune: {search_space: {learning_rate: {type: float, low: 1.0e-5, "
            "high: 1.0e-3, log: true}}}` in the recipe (or --search_space as JSON)."
        )
    return [parse_parameter(str(name), value) for name, value in spec.items()]


def with_parameters(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The base recipe values with the trial's parameters: nested ones set inside their block (a strategy given
    as a bare type name becomes ``{type: name}`` first)."""
    values = copy.deepcopy(base)
    for name, value in params.items():
        if "." in name:
            block, option = name.split(".", 1)
            current = values.get(block)
            if isinstance(current, str):
                current = {"type": current}
            values[block] = {**(current or {}), option: value}
        else:
            values[name] = value
    return values
