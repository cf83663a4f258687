"""Recipe values converted to their fields' declared types, before any dataclass sees them.

``HfArgumentParser.parse_dict`` passes values through unchanged, and YAML 1.1 reads ``1e-4`` as the string
``"1e-4"``; so every recipe value (YAML, dict and command line alike, nested ``strategy`` / ``adaptation`` /
``multitask`` blocks too) goes through :func:`coerce_fields` first:

- ``1e-4`` and ``"1e-4"`` are floats where the field is a float; ``"3"`` and ``3.0`` are ints where it is an int;
- ``"true"`` / ``"no"`` are booleans where it is a bool;
- a single value is a one-item list where the field is a list (``metrics: accuracy`` → ``["accuracy"]``);
- an enum takes its value (``eval_strategy: epoch``); a ``dict`` field takes a mapping or a JSON object string.

A value that does not convert is a :class:`~hf_transfer.errors.RecipeError` naming the key, the value, the
expected type and an example.

Example::

    >>> coerce_fields(AdaptationConfig, {"domain_loss_weight": "1e-1"}, "adaptation")
    {'domain_loss_weight': 0.1}
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import types
import typing
from typing import Any, Literal, Union

from .errors import RecipeError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~"}
_EXAMPLES = {bool: "true", int: "3", float: "0.5", str: "text", dict: "{type: full}", list: "[a, b]"}
_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a mapping"}


class _NoMatch(Exception):
    """A value that does not convert to one type (the next type of a union is tried)."""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return f"a list, each item {_type_name(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in annotation)
    return _NAMES.get(annotation) or getattr(annotation, "__name__", str(annotation))


_KEY_EXAMPLES = {
    "max_length": "128",
    "num_train_epochs": "3",
    "num_layers": "2",
    "image_size": "96",
    "class_weight": "balanced",
}


def _example(annotation: Any, key: str = "") -> str:
    if "learning_rate" in key and _NAMES.get(annotation) != "an integer":
        return "1e-4"
    if key in _KEY_EXAMPLES:
        return _KEY_EXAMPLES[key]
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return _example(next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is Literal:
        return str(typing.get_args(annotation)[0])
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return f"[{_example(args[0])}]" if args else "[a, b]"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return str(next(iter(annotation)).value)
    return _EXAMPLES.get(origin or annotation, "…")


def _scalar(value: Any, target: type) -> Any:
    if target is Any or target is object:
        return value
    if target is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _NoMatch
    if target is int:
        if isinstance(value, bool):
            raise _NoMatch
        if isinstance(value, int):
            return value
        number = _scalar(value, float)
        if math.isfinite(number) and number == int(number):
            return int(number)
        raise _NoMatch
    if target is float:
        if isinstance(value, bool):
            raise _NoMatch
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise _NoMatch from None
        raise _NoMatch
    if target is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            return str(value)  # `dataset_config_name: 2020`; `resume_from_checkpoint: true`
        raise _NoMatch
    if isinstance(target, type) and issubclass(target, enum.Enum):
        if isinstance(value, target):
            return value
        try:
            return target(value.strip() if isinstance(value, str) else value)
        except ValueError:
            raise _NoMatch from None
    if target is dict:
        if isinstance(value, dict):
            return value
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise _NoMatch from None
            if isinstance(parsed, dict):
                return parsed
        raise _NoMatch
    if target is list:
        return list(value) if isinstance(value, (list, tuple)) else [value]
    if dataclasses.is_dataclass(target) and isinstance(value, dict):
        return value  # a nested block (a multi-task task): its own class converts its fields
    if isinstance(target, type) and isinstance(value, target):
        return value
    raise _NoMatch


def _convert(value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = typing.get_args(annotation)
        # an exact type match wins (a str stays a str in `str | Enum`), then None, then the first conversion
        if any(type(value) is member for member in members):
            return value
        is_none = value is None or (isinstance(value, str) and value.strip().lower() in _NONE)
        if is_none and type(None) in members:
            return None
        members = [m for m in members if m is not type(None)]
        for member in members:
            try:
                return _convert(value, member)
            except _NoMatch:
                continue
        raise _NoMatch
    if value is None:
        raise _NoMatch
    if origin is Literal:
        if value in typing.get_args(annotation):
            return value
        raise _NoMatch
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        return [_convert(item, args[0]) for item in items] if args else items
    if origin is dict:
        return _scalar(value, dict)
    if origin is not None:  # another generic (Callable, …): left to the dataclass
        return value
    return _scalar(value, annotation)


def coerce(value: Any, annotation: Any, key: str, where: str = "recipe") -> Any:
    """``value`` converted to ``annotation`` (see the module docstring); a :class:`RecipeError` otherwise."""
    try:
        return _convert(value, annotation)
    except _NoMatch:
        raise RecipeError(
            f"{where}: `{key}` must be {_type_name(annotation)}, got {value!r} ({type(value).__name__}); "
            f"e.g. `{key}: {_example(annotation, key)}`."
        ) from None


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of every init field of a dataclass (string annotations evaluated)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def coerce_fields(cls: type, values: dict[str, Any], where: str = "recipe") -> dict[str, Any]:
    """A copy of ``values`` with every key that is a field of ``cls`` converted to that field's type."""
    types_ = field_types(cls)
    return {
        key: coerce(value, types_[key], key, where) if key in types_ else value
        for key, value in values.items()
    }
