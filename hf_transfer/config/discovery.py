"""Where recipes are found and how runs are named: shipped recipes, recipe names, default output folders."""

from __future__ import annotations

import datetime
from pathlib import Path

from ..errors import RecipeError, did_you_mean

DEFAULT_RECIPE = "sentiment/minilm_full"
LAUNCH_CONFIG_DIRS = ("accelerate",)  # accelerate launch configs, shipped beside the recipes
# Shipped recipes: configs/ in a source checkout (or editable install), hf_transfer/recipes/ in a wheel.
_PACKAGED_RECIPES = Path(__file__).resolve().parent.parent / "recipes"
RECIPES_DIR = (
    _PACKAGED_RECIPES
    if _PACKAGED_RECIPES.is_dir()
    else Path(__file__).resolve().parent.parent.parent / "configs"
)


def shipped_recipes() -> list[Path]:
    """The recipe files under ``configs/`` (not the ``accelerate/`` launch configs beside them)."""
    return sorted(
        p
        for p in RECIPES_DIR.glob("**/*.yaml")
        if p.relative_to(RECIPES_DIR).parts[0] not in LAUNCH_CONFIG_DIRS
    )


def resolve_recipe_path(recipe: str | Path) -> Path:
    """A recipe file path, or a name under ``configs/`` (``sentiment/minilm_full``) resolved to its file."""
    path = Path(recipe)
    if path.is_file():
        return path
    for candidate in (RECIPES_DIR / recipe, RECIPES_DIR / f"{recipe}.yaml"):
        if candidate.is_file() and candidate in shipped_recipes():
            return candidate
        if candidate.is_file():
            raise RecipeError(
                f"{recipe!r} is an accelerate launch config, not a recipe: pass it to `accelerate launch "
                f"--config_file {candidate}` and give a recipe after the script."
            )
    known = sorted(str(p.relative_to(RECIPES_DIR).with_suffix("")) for p in shipped_recipes())
    raise RecipeError(
        f"Recipe {str(recipe)!r} not found: not a file, nor a recipe name under {RECIPES_DIR}."
        f"{did_you_mean(str(recipe), known)} Shipped recipes: {', '.join(known) or 'none'}."
    )


def recipe_name(path: Path) -> str:
    """``sentiment-minilm_full`` for a shipped recipe (its path under configs/), else the file's stem."""
    path = path.resolve()
    if RECIPES_DIR in path.parents:
        return "-".join(path.relative_to(RECIPES_DIR).with_suffix("").parts)
    return path.stem


def default_output_dir(name: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(Path("outputs") / name / stamp)
