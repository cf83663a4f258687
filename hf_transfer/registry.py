"""Name → class registries (objectives, stage kinds): one decorator factory, one lookup with the fix in its error."""

from __future__ import annotations

from collections.abc import Callable

from .errors import RecipeError, did_you_mean


def registrar(table: dict[str, type], what: str) -> Callable[[str], Callable[[type], type]]:
    """``register(name)``: a class decorator that records the class in ``table`` and sets its ``name``."""

    def register(name: str) -> Callable[[type], type]:
        def decorator(cls: type) -> type:
            if name in table:
                raise ValueError(f"{what} {name!r} is already registered")
            cls.name = name
            table[name] = cls
            return cls

        return decorator

    return register


def lookup(table: dict[str, type], name: str, what: str, where: str = "") -> type:
    """``table[name]``, or a :class:`RecipeError` naming the closest registered names."""
    if name not in table:
        prefix = f"{where}: unknown" if where else "Unknown"
        raise RecipeError(
            f"{prefix} {what} {name!r}.{did_you_mean(str(name), table)} Registered: {', '.join(sorted(table))}."
        )
    return table[name]


def first_lines(table: dict[str, type]) -> dict[str, str]:
    """Each registered name with the first line of its class's docstring."""
    return {name: (cls.__doc__ or "").strip().splitlines()[0] for name, cls in sorted(table.items())}
