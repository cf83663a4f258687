"""The structure stays what docs/architecture.md says: imports go one way, the extension points work from outside
the package (a toy objective and a toy stage kind run end to end), runs record their objective, stages run in
order and resume stage by stage, and domain adaptation wraps a multi-task model (text and images)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
import yaml
from conftest import assert_same_logits, tiny_batch
from torch import nn
from transformers import AutoModelForSequenceClassification
from transformers.utils import ModelOutput

import hf_transfer
from hf_transfer import Objective, StageKind, evaluate, register_objective, register_stage_kind, train
from hf_transfer.cards import render_output_card
from hf_transfer.cli.main import COMMANDS, build_parser
from hf_transfer.errors import OutputDirError, RecipeError
from hf_transfer.objectives import OBJECTIVES, TrainerInputs
from hf_transfer.report import summary_table
from hf_transfer.stages import STAGE_KINDS, StageResult
from hf_transfer.stages import train as train_stage
from hf_transfer.wrappers import MultiTaskModel, load_trained_classifier

PACKAGE = Path(hf_transfer.__file__).parent

# Lowest first: a module may import only from its own layer or below (docs/architecture.md, "Layers").
LAYERS = [
    ("errors", "typed_values", "tables", "offline", "run_files", "registry", "config.precision"),
    ("metrics", "data"),
    ("modeling", "licences"),
    ("wrappers",),
    ("strategies",),
    ("config.arguments", "config.discovery"),
    ("objectives",),
    ("config",),
    ("training",),
    ("stages",),
    ("cards", "report", "publish", "inference", "evaluation"),
    ("run",),
    ("compare", "tune"),
    ("cli", "__init__", "__main__"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def layer_of(module: str) -> int:
    best, found = -1, None
    for number, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), number
    assert found is not None, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return found


def package_imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported hf_transfer module, inside a function)`` for every import of a module."""
    tree, found = ast.parse(path.read_text()), []
    here = module_name(path).split(".")
    is_package = path.name == "__init__.py"

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and child.level:
                base = here if is_package and here != ["__init__"] else here[:-1]
                base = base[: len(base) - (child.level - 1)] if child.level > 1 else base
                target = ".".join([*base, *([child.module] if child.module else [])]).strip(".")
                found.append((target or "__init__", nested))
            elif isinstance(child, (ast.ImportFrom, ast.Import)):
                names = [child.module] if isinstance(child, ast.ImportFrom) else [a.name for a in child.names]
                found.extend(
                    [
                        ("__init__" if n == "hf_transfer" else n.removeprefix("hf_transfer."), nested)
                        for n in names
                        if n and n.startswith("hf_transfer")
                    ]
                )
            visit(child, nested)

    visit(tree, False)
    return found


MODULES = sorted(
    p
    for p in PACKAGE.rglob("*.py")
    if "metrics/" not in str(p.relative_to(PACKAGE)) or p.name == "__init__.py"
)


def test_imports_only_go_down_the_layers_and_none_hides_in_a_function():
    upward, in_functions = [], []
    for path in MODULES:
        module = module_name(path)
        for target, nested in package_imports(path):
            if nested:
                in_functions.append(f"{module} -> {target}")
            if layer_of(target) > layer_of(module):
                upward.append(f"{module} -> {target}")
    assert not upward, f"imports going up the layers: {upward}"
    assert not in_functions, f"function-level imports of hf_transfer modules: {in_functions}"


# -- a toy objective and a toy stage kind, registered from outside the package -------------------------------


@dataclass
class ToyPenaltyArguments:
    toy_penalty: float | None = field(default=None, metadata={"help": "Weight of a logit penalty (toy)."})

    def __post_init__(self):
        if self.toy_penalty is not None and self.toy_penalty < 0:
            raise RecipeError("`toy_penalty` must be ≥ 0.")


class PenaltyWrapper(nn.Module):
    """Adds ``weight · mean(logits²)`` to the task loss and reports it as a loss part."""

    def __init__(self, task_model, weight: float):
        super().__init__()
        self.task_model, self.weight = task_model, weight

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None):
        out = self.task_model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        penalty = self.weight * out.logits.pow(2).mean()
        loss = None if out.loss is None else out.loss + penalty
        return ModelOutput(loss=loss, logits=out.logits, loss_parts={"toy_penalty": penalty})


class ToyPenalty(Objective):
    """A toy wrapper objective: a penalty on the logits."""

    arguments = ToyPenaltyArguments
    wraps = True

    @classmethod
    def requested(cls, arguments) -> bool:
        return arguments is not None and arguments.toy_penalty is not None

    def trainer_inputs(self, model, processor) -> TrainerInputs:
        inputs = self.task.trainer_inputs(model, processor)
        return dataclasses.replace(inputs, model=PenaltyWrapper(inputs.model, self.options.toy_penalty))

    def exported_model(self, model):
        return self.task.exported_model(model.task_model if isinstance(model, PenaltyWrapper) else model)

    def record(self) -> dict:
        return {**self.task.record(), "toy_penalty": self.options.toy_penalty}

    @classmethod
    def card(cls, context, saved) -> None:
        context["tags"].append(f"toy-penalty-{saved.metrics['toy_penalty']}")


class Shrink(StageKind):
    """A toy stage kind: scale the previous stage's head weights, save, and record the factor."""

    @dataclass
    class Options:
        factor: float = 0.5

    options = Options

    def run(self, recipe, context) -> StageResult:
        model = AutoModelForSequenceClassification.from_pretrained(context.previous)
        with torch.no_grad():
            model.classifier.weight.mul_(self.config.factor)
        out = context.claim(recipe)
        model.save_pretrained(out)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (context.previous / name).is_file():
                shutil.copy(context.previous / name, out / name)
        metrics = json.loads((context.previous / "metrics.json").read_text())
        metrics["shrunk_by"] = self.config.factor
        (out / "metrics.json").write_text(json.dumps(metrics))
        return StageResult(out, metrics)


@pytest.fixture
def toy_extensions():
    register_objective("toy_penalty")(ToyPenalty)
    register_stage_kind("shrink")(Shrink)
    yield
    OBJECTIVES.pop("toy_penalty")
    STAGE_KINDS.pop("shrink")


def test_a_toy_objective_from_outside_wraps_the_task_and_its_loss_part_is_logged(toy_extensions, tiny_recipe):
    result = train(tiny_recipe("bert", toy_penalty=0.5, max_steps=3))
    metrics = result.metrics
    assert metrics["objective"] == "toy_penalty" and metrics["objectives"] == ["toy_penalty", "single_task"]
    assert metrics["toy_penalty"] == 0.5 and metrics["format_version"] == 2
    logged = [
        e
        for e in result.trainer.state.log_history
        if "loss" in e and "step" in e and "train_runtime" not in e
    ]
    assert logged and all(
        e["toy_penalty"] > 0 for e in logged
    )  # the trainer logs a part it has never heard of
    stock = AutoModelForSequenceClassification.from_pretrained(
        result.output_dir
    ).eval()  # exported: no wrapper
    batch = {k: v for k, v in tiny_batch("bert").items() if k != "labels"}
    trained = result.trainer.model.task_model.eval()
    assert_same_logits(stock(**batch).logits, trained(**batch).logits)
    assert "- toy-penalty-0.5\n" in (result.output_dir / "README.md").read_text()  # its card hook ran
    with pytest.raises(RecipeError, match="toy_penalty"):
        hf_transfer.parse_recipe(tiny_recipe("bert", toy_penalty=-1))


def test_a_toy_stage_kind_runs_after_a_train_stage_on_its_model(toy_extensions, tiny_recipe):
    recipe = tiny_recipe(
        "bert", max_steps=2, stages=[{"kind": "train", "name": "fit"}, {"kind": "shrink", "factor": 0.25}]
    )
    result = train(recipe)
    out = result.output_dir
    fitted = AutoModelForSequenceClassification.from_pretrained(out / "stages" / "1-fit")
    final = AutoModelForSequenceClassification.from_pretrained(out)  # the last stage's model, at the top
    torch.testing.assert_close(final.classifier.weight, fitted.classifier.weight * 0.25)
    assert [s["name"] for s in result.metrics["stages"]] == ["fit", "shrink"]
    assert [s["kind"] for s in result.metrics["stages"]] == ["train", "shrink"]
    assert result.metrics["shrunk_by"] == 0.25
    with pytest.raises(RecipeError, match="Unknown recipe key.*stage 2"):
        train(
            tiny_recipe(
                "bert",
                stages=[{"kind": "train"}, {"kind": "shrink", "factr": 2}],
                output_dir=str(out.parent / "x"),
            )
        )


# -- what a run records, and old runs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def single_run(tiny_checkpoints, tmp_path_factory):
    from conftest import FAST_RUN, SMALL_TEXT_DATA

    out = tmp_path_factory.mktemp("single") / "run"
    recipe = {
        "model_name_or_path": str(tiny_checkpoints["bert"]),
        **SMALL_TEXT_DATA,
        **FAST_RUN,
        "max_steps": 2,
    }
    return train({**recipe, "output_dir": str(out)})


def test_metrics_record_the_objective_and_old_runs_still_report(single_run, tmp_path):
    metrics = single_run.metrics
    assert metrics["format_version"] == 2 and metrics["objectives"] == ["single_task"]
    old = tmp_path / "old-run"
    shutil.copytree(single_run.output_dir, old)
    legacy = {k: v for k, v in metrics.items() if k not in ("format_version", "objective", "objectives")}
    (old / "metrics.json").write_text(json.dumps(legacy, default=str))  # what runs before format 2 wrote
    card, old_card = (
        render_output_card(f, load_path="here", model_name="m") for f in (single_run.output_dir, old)
    )
    assert old_card.text == card.text and old_card.data.to_dict() == card.data.to_dict()
    assert summary_table(old).splitlines()[1:] == summary_table(single_run.output_dir).splitlines()[1:]
    assert evaluate(old)["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


# -- stages ----------------------------------------------------------------------------------------------------

TWO_STAGES = [
    {
        "kind": "train",
        "name": "head",
        "strategy": "feature_extraction",
        "pooling": "mean",
        "learning_rate": 1e-2,
    },
    {
        "kind": "train",
        "name": "full",
        "strategy": "full",
        "max_steps": 4,
        "save_strategy": "steps",
        "save_steps": 2,
    },
]


class RecordingTrainer(train_stage.TransferTrainer):
    resumed_from: list = []

    def train(self, resume_from_checkpoint=None, **kwargs):
        RecordingTrainer.resumed_from.append(resume_from_checkpoint)
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)


def test_stages_run_in_order_each_from_the_previous_model_and_resume_stage_by_stage(tiny_recipe, monkeypatch):
    monkeypatch.setattr(train_stage, "TransferTrainer", RecordingTrainer)
    RecordingTrainer.resumed_from = []
    recipe = tiny_recipe("bert", max_steps=2, save_total_limit=None, stages=TWO_STAGES)
    result = train(recipe)
    out = result.output_dir
    first, second = out / "stages" / "1-head", out / "stages" / "2-full"
    assert (first / "metrics.json").is_file() and (second / "checkpoint-4").is_dir()
    second_recipe = yaml.safe_load((second / "recipe.yaml").read_text())
    assert second_recipe["model_name_or_path"] == str(first) and second_recipe["learning_rate"] == 1e-3
    assert json.loads((first / "metrics.json").read_text())["strategy"]["type"] == "feature_extraction"
    # the final model at the top is stage 2's: same weights, and it reloads as a pooled classifier
    top, last = load_trained_classifier(out).eval(), load_trained_classifier(second).eval()
    batch = {k: v for k, v in tiny_batch("bert").items() if k != "labels"}
    assert_same_logits(top(**batch).logits, last(**batch).logits)
    assert [s["name"] for s in result.metrics["stages"]] == ["head", "full"]
    assert "## Stages" in (out / "README.md").read_text()
    assert not list(out.glob("checkpoint-*"))  # checkpoints stay in their stage's folder

    # a run stopped in stage 2 after its first checkpoint: stage 1 is skipped, stage 2 resumes
    shutil.rmtree(second / "checkpoint-4")
    (second / "metrics.json").unlink()
    (out / "metrics.json").unlink()
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    RecordingTrainer.resumed_from = []
    resumed = train({**recipe, "resume_from_checkpoint": True})
    assert resumed.output_dir == out and (first / "model.safetensors").stat().st_mtime_ns == stamp
    assert len(RecordingTrainer.resumed_from) == 1 and RecordingTrainer.resumed_from[0].endswith(
        "checkpoint-2"
    )
    assert resumed.metrics["stages"][0].get("resumed_as_finished") and resumed.trainer.state.global_step == 4


def test_bad_stages_fail_before_anything_loads(tiny_recipe, tmp_path):
    cases = [
        ([{"kind": "pretrain"}], "unknown stage kind 'pretrain'"),
        ([{"kind": "train", "output_dir": "x"}], "set for the whole run"),
        ([{"kind": "train"}, {"kind": "train"}], "name 'train' is taken"),
        ([{"name": "x"}], "must be a mapping with `kind`"),
        ([{"kind": "train", "learning_rate": -1}], "learning_rate"),
    ]
    for stages, message in cases:
        with pytest.raises(RecipeError, match=message):
            train(tiny_recipe("bert", stages=stages, output_dir=str(tmp_path / "never")))
    assert not (tmp_path / "never").exists()


def test_a_stage_folder_left_without_a_checkpoint_is_not_overwritten(tiny_recipe, tmp_path):
    recipe = tiny_recipe("bert", max_steps=1, stages=[{"kind": "train"}], output_dir=str(tmp_path / "run"))
    result = train(recipe)
    (result.output_dir / "stages" / "1-train" / "metrics.json").unlink()
    with pytest.raises(OutputDirError, match="stopped stage"):
        train({**recipe, "resume_from_checkpoint": True})


# -- domain adaptation wraps a multi-task model ------------------------------------------------------------------

TEXT_TASKS = {
    "tasks": [
        {"name": "sentiment", "label_column": "sentiment"},
        {"name": "subjectivity", "label_column": "subjectivity"},
    ]
}


def test_domain_adaptation_wraps_a_multitask_text_model(tiny_recipe):
    recipe = tiny_recipe(
        "bert",
        dataset_config_name="multitask",
        multitask=TEXT_TASKS,
        adaptation={"type": "dann", "domain_gap_samples": 32},
        target_dataset_name="rotten_tomatoes_snippets",  # labelled per task: scored as target_test
        target_dataset_config_name="multitask",
        max_train_samples=64,
        max_steps=3,
    )
    result = train(recipe)
    metrics = result.metrics
    assert metrics["objectives"] == ["domain_adaptation", "multitask"]
    assert {"sentiment_accuracy", "subjectivity_accuracy"} <= set(metrics["target_test"])
    assert "proxy_a_distance_after" in metrics["domain_adaptation"]
    logged = [e for e in result.trainer.state.log_history if "domain_loss" in e]
    assert logged and all(
        {"loss_sentiment", "loss_subjectivity", "lambda", "domain_accuracy"} <= set(e) for e in logged
    )
    exported = load_trained_classifier(result.output_dir).eval()
    assert isinstance(exported, MultiTaskModel)  # the discriminator is not part of the export
    assert not any("discriminator" in k for k in exported.state_dict())
    batch = {k: v for k, v in tiny_batch("bert").items() if k != "labels"}
    trained = result.trainer.model.task_model.eval()
    assert_same_logits(exported(**batch).logits, trained(**batch).logits)
    card = (result.output_dir / "README.md").read_text()
    assert "## Domain adaptation" in card and "## Tasks" in card and "multi-task" in card
    predictions = [json.loads(line) for line in (result.output_dir / "predictions_test.jsonl").open()]
    assert {"sentiment", "subjectivity"} <= set(predictions[0])
    assert "dann domain adaptation" in summary_table(result.output_dir)


def test_domain_adaptation_wraps_a_multitask_image_model(tiny_image_recipe, image_folder):
    tasks = {"tasks": [{"name": "colour", "label_column": "label"}, {"name": "hue", "label_column": "label"}]}
    result = train(
        tiny_image_recipe(
            "convnext",
            multitask=tasks,
            adaptation={"type": "coral", "domain_gap_samples": 16},
            target_dataset_name=str(image_folder),
            target_degrade=["blur", "low_light"],
            max_steps=2,
        )
    )
    assert result.metrics["objectives"] == ["domain_adaptation", "multitask"]
    assert {"colour_accuracy", "hue_accuracy"} <= set(result.metrics["target_test"])
    assert isinstance(load_trained_classifier(result.output_dir), MultiTaskModel)
    logged = [e for e in result.trainer.state.log_history if "domain_loss" in e]
    assert logged and all("loss_colour" in e for e in logged)


def type_checking_imports() -> dict[str, str]:
    """``hf_transfer/__init__.py``'s ``if TYPE_CHECKING:`` imports: name -> the relative module it comes from."""
    tree = ast.parse(Path(hf_transfer.__file__).read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    return {
        alias.name: "." * node.level + node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_the_package_and_the_cli_load_their_modules_on_first_use():
    """``import hf_transfer`` loads no torch; every public name resolves to its module's object; importing the
    ``compare`` / ``tune`` subpackages keeps the functions of those names; a command's parser is all a command
    loads; both tables name modules below them."""
    code = """
import json, sys
import hf_transfer
heavy = sorted(m for m in ("torch", "transformers", "peft", "datasets", "optuna") if m in sys.modules)
import hf_transfer.compare.candidates, hf_transfer.tune.search
from hf_transfer import compare, tune
names = {n: type(getattr(hf_transfer, n)).__name__ for n in hf_transfer.__all__}
print("RESULT " + json.dumps({"heavy": heavy, "names": names, "compare": compare.__module__, "tune": tune.__module__}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["heavy"] == []
    assert result["compare"] == "hf_transfer.compare.comparison" and result["tune"] == "hf_transfer.tune.search"
    assert set(result["names"]) == set(hf_transfer.__all__) and "module" not in result["names"].values()
    for name, module in hf_transfer._EXPORTS.items():
        assert getattr(importlib.import_module(f"hf_transfer.{module}"), name) is getattr(hf_transfer, name)
    assert set(hf_transfer._EXPORTS) | {"__version__"} == set(hf_transfer.__all__)
    assert type_checking_imports() == {  # what IDEs and type checkers read: the same names from the same modules
        name: f".{module}" for name, module in hf_transfer._EXPORTS.items()
    }

    every = build_parser()._subparsers._group_actions[0].choices
    assert list(every) == list(COMMANDS)
    assert list(build_parser("push")._subparsers._group_actions[0].choices) == ["push"]
    for module in {*hf_transfer._EXPORTS.values(), *(f"cli.{m}" for m, _ in COMMANDS.values())}:
        assert layer_of(module) <= layer_of("cli"), module
