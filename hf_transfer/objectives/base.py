"""The objective interface and its registry: what a run optimises, on which data, and what it reports.

A **task objective** (``single_task``, ``multitask``) owns the labelled data, the model's head(s), the metrics,
the predictions file and the exported model. A **wrapper objective** (``domain_adaptation``) wraps a task
objective: it delegates all of that to it and adds its own data (the unlabelled target), model wrapper, sampler,
callbacks and after-training results. A run's objective is the task objective, wrapped by every wrapper objective
its recipe asks for, so a multi-task model can be domain-adapted like a single-task one.

A recipe picks the task objective with ``objective: NAME`` (default: the one whose recipe block is set —
``multitask:`` — else ``single_task``); a wrapper objective is on when its block is set (``adaptation:``).
Each objective may add recipe keys with an ``arguments`` dataclass (validated in ``__post_init__`` like every
recipe key). Adding an objective is one module plus :func:`register_objective`; nothing else changes.

The run (:mod:`hf_transfer.stages.train`) calls, in order: :meth:`Objective.load_data` →
:meth:`~Objective.build_model` → (the strategy) → :meth:`~Objective.trainer_inputs` → ``Trainer.train`` →
:meth:`~Objective.adjust` → (save) → :meth:`~Objective.finish` → :meth:`~Objective.exported_model` → :meth:`~Objective.record` →
:meth:`~Objective.write_predictions`. Saved runs are read back by the class methods (:meth:`~Objective.card`,
:meth:`~Objective.summary_rows`, :meth:`~Objective.confusion_pairs`, :meth:`~Objective.evaluate_saved`,
:meth:`~Objective.decode`), chosen by the ``objective`` that ``metrics.json`` records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from datasets import DatasetDict
from torch import nn

from ..errors import RecipeError
from ..registry import first_lines, lookup, registrar


@dataclass
class ObjectiveData:
    """A task objective's data: raw splits (what predictions quote), encoded splits (model inputs + ``labels``)
    and the labels as ``metrics.json`` records them."""

    raw: Any
    encoded: DatasetDict
    labels: Any
    eval_sets: list[str] = field(default_factory=list)  # named evaluation sets (`eval_files`), in `encoded` too


@dataclass
class TrainerInputs:
    """What the ``Trainer`` gets from the objective."""

    model: nn.Module
    train_dataset: Any
    eval_dataset: Any
    compute_metrics: Callable
    sampler: Any = None  # a run-specific train sampler (domain mixing, task batches); None: the Trainer's own
    callbacks: list = field(default_factory=list)
    wrap_collator: Callable | None = (
        None  # the run's collator → the one to train with (UDALM's target masking)
    )
    task_loss: nn.Module | None = None  # the loss from (logits, labels) (class weights); None: the model's own


class Objective:
    """One objective of a run; subclasses implement the hooks their kind needs (see the module docstring)."""

    name: ClassVar[str] = ""
    arguments: ClassVar[type | None] = None  # dataclass of the recipe keys this objective adds
    wraps: ClassVar[bool] = False  # a wrapper objective (wraps a task objective)
    supports_feature_cache: ClassVar[bool] = False  # trains on cached features (feature_extraction cache)

    def __init__(self, recipe, task: Objective | None = None):
        self.recipe = recipe
        self.task = task
        self.data: ObjectiveData | None = None

    # -- parse time -------------------------------------------------------------------------------------------

    @classmethod
    def requested(cls, arguments) -> bool:
        """Whether the recipe's ``arguments`` (an instance of :attr:`arguments`) ask for this objective."""
        return False

    @classmethod
    def check_recipe(cls, recipe, source: str) -> None:
        """Parse-time checks across this objective's keys and the rest of the recipe (raise RecipeError)."""

    # -- a run ----------------------------------------------------------------------------------------------------

    @property
    def options(self):
        """This objective's recipe arguments (an instance of :attr:`arguments`, or None)."""
        return self.recipe.objective_arguments.get(self.name)

    def protected_paths(self) -> dict[str, str]:
        """Recipe key → path of what this objective reads (a run never writes into or deletes them)."""
        return self.task.protected_paths() if self.task else {}

    def load_data(self, processor) -> ObjectiveData:
        """Load and encode the labelled data; sets and returns :attr:`data`."""
        self.data = self.task.load_data(processor)
        return self.data

    def build_model(self, checkpoint, default_pooling: str) -> nn.Module:
        """The task model on the checkpoint (new heads), before the strategy decides what trains."""
        return self.task.build_model(checkpoint, default_pooling)

    def describe_data(self) -> str:
        """The labels (or tasks) in a line, for a dry run."""
        return self.task.describe_data()

    def trainer_inputs(self, model: nn.Module, processor) -> TrainerInputs:
        """The model to train (wrapped when this objective wraps), datasets, metrics, sampler and callbacks."""
        return self.task.trainer_inputs(model, processor)

    def adjust(self, trainer, processor) -> None:
        """Change the trained model before it is saved and scored (target batch-norm statistics, prior shift)."""
        if self.task:
            self.task.adjust(trainer, processor)

    def finish(self, trainer, processor, output_dir: Path) -> dict[str, Any]:
        """What the objective adds to ``metrics.json`` after training (target metrics, domain gap…)."""
        return self.task.finish(trainer, processor, output_dir) if self.task else {}

    def exported_model(self, model: nn.Module) -> nn.Module:
        """The model to save: wrappers are dropped, so the export loads without them."""
        return self.task.exported_model(model) if self.task else model

    def record(self) -> dict[str, Any]:
        """Keys this objective adds to ``metrics.json`` before the metrics (labels, task tables…)."""
        return self.task.record() if self.task else {}

    def write_predictions(self, path: Path, logits) -> None:
        """Write the test predictions file (one JSON line per test row)."""
        self.task.write_predictions(path, logits)

    @property
    def chain(self) -> list[Objective]:
        """This objective and the ones it wraps, outermost first."""
        return [self, *(self.task.chain if self.task else [])]

    @property
    def task_objective(self) -> Objective:
        return self.chain[-1]

    # -- a saved run (read from its files) ---------------------------------------------------------------------

    @classmethod
    def card(cls, context: dict[str, Any], saved) -> None:
        """Add this objective's part of the model card to ``context`` (template name, sections, tags)."""

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        """A few words for the report's overview (``dann domain adaptation``); empty: nothing to add."""
        return ""

    @classmethod
    def summary_rows(cls, metrics: dict[str, Any], splits: dict[str, dict]):
        """The report's metric table as ``(header, {row key: {metric: value}})`` from the metrics of each split;
        None: one row per split."""
        return None

    @classmethod
    def confusion_pairs(cls, metrics: dict[str, Any], records: list[dict]) -> dict:
        """``{task or None: (labels, [(true, predicted), ...])}`` from the test predictions, for the report's
        confusion matrices (one per classification task; None: the single task)."""
        return {}

    @classmethod
    def evaluate_saved(cls, saved, split: str, data_overrides: dict, metrics, batch_size: int):
        """What evaluating a saved model on a split of its recipe's data (or of ``data_overrides``) needs: an
        :class:`~hf_transfer.objectives.records.EvaluationInputs`."""
        raise NotImplementedError(f"objective {cls.name!r} cannot evaluate a saved model")

    @classmethod
    def decode(cls, model, logits, top_k: int = 1) -> list[dict]:
        """Per row of ``logits``, the prediction record (without the input) ``predict`` returns."""
        raise NotImplementedError(f"objective {cls.name!r} has no predictions")


OBJECTIVES: dict[str, type[Objective]] = {}

register_objective = registrar(OBJECTIVES, "objective")
register_objective.__doc__ = (
    "Class decorator registering an :class:`Objective` under the name recipes and metrics.json use."
)


def objective_class(name: str) -> type[Objective]:
    return lookup(OBJECTIVES, name, "objective")


def task_objective_name(choice: str | None, arguments: dict[str, Any]) -> str:
    """The recipe's task objective: ``objective:`` when set, else the task objective whose block is set, else
    ``single_task``. ``arguments``: objective name → its recipe arguments."""
    asked = [n for n, cls in OBJECTIVES.items() if not cls.wraps and cls.requested(arguments.get(n))]
    if choice:
        if objective_class(choice).wraps:
            raise RecipeError(
                f"`objective: {choice}` wraps a task objective: set its block instead (e.g. `adaptation: dann`) "
                "and leave `objective` to the task (single_task, multitask)."
            )
        other = [n for n in asked if n != choice]
        if other:
            raise RecipeError(
                f"`objective: {choice}` but the recipe also sets the block of `{other[0]}`: drop one of the two."
            )
        return choice
    if len(asked) > 1:
        raise RecipeError(
            f"The recipe sets blocks of several task objectives ({', '.join(asked)}): keep one."
        )
    return asked[0] if asked else "single_task"


def wrapper_names(arguments: dict[str, Any]) -> list[str]:
    """The wrapper objectives the recipe asks for, outermost first (registration order, innermost last)."""
    return [n for n, cls in reversed(OBJECTIVES.items()) if cls.wraps and cls.requested(arguments.get(n))]


def build_objective(recipe) -> Objective:
    """The run's objective: the task objective wrapped by every wrapper objective the recipe asks for."""
    objective = objective_class(recipe.objective_names[-1])(recipe)
    for name in reversed(recipe.objective_names[:-1]):
        objective = objective_class(name)(recipe, task=objective)
    return objective


def list_objectives() -> dict[str, str]:
    """Registered objectives with the first line of their docstrings."""
    return first_lines(OBJECTIVES)
