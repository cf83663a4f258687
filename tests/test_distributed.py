"""Scale, for every wrapper (plain, DANN, multi-task) on tiny models: a 2-process data-parallel run (gloo, CPU)
trains like one process with the same global batch, and only rank 0 writes; a run resumed after an interruption
ends where the uninterrupted run ends; gradient accumulation trains like the bigger batch; bf16 trains (fp16
with a GPU).

Comparisons run without dropout (a DDP rank, or a micro-batch, draws other dropout masks than one big batch):
the tiny BERT below has no dropout, DANN's discriminator gets ``discriminator_dropout: 0``, and, since the
multi-task heads' dropout is no recipe option, multi-task runs use :class:`DeterministicTrainer` (every dropout
off; in 2-process runs through a launcher that installs it before ``scripts/train.py`` runs).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import FAST_RUN, SMALL_TEXT_DATA, tiny_text_config
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModelForSequenceClassification, TrainerCallback

from hf_transfer import train
from hf_transfer.objectives.domain_adaptation import DomainMixSampler
from hf_transfer.objectives.multitask import TaskBatchSampler
from hf_transfer.stages import train as train_stage
from hf_transfer.training.trainer import SamplerEpochCallback, TransferTrainer

ROOT = Path(__file__).resolve().parent.parent
TRAIN_SCRIPT = ROOT / "scripts" / "train.py"
CPU_2PROC = ROOT / "configs" / "accelerate" / "cpu_2proc_ddp.yaml"
STOP_AT = "HF_TRANSFER_TEST_STOP_AT"  # DeterministicTrainer stops (an "interruption") after this step
WRAPPERS = ("plain", "dann", "multitask")
TIMING = ("runtime", "per_second")  # metric keys that measure time, not the model
LOGGED = ("loss", "learning_rate", "lambda", "task_loss", "domain_loss", "loss_sentiment", "loss_domain")


class StopAt(TrainerCallback):
    """Ends training after ``step`` optimizer steps, as a crash right after that step's checkpoint would."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


class DeterministicTrainer(TransferTrainer):
    """``TransferTrainer`` with every dropout off, interrupted after step ``$HF_TRANSFER_TEST_STOP_AT`` if set."""

    def __init__(self, *args, callbacks=None, **kwargs):
        stop = os.environ.get(STOP_AT)
        callbacks = [*(callbacks or []), *([StopAt(int(stop))] if stop else [])]
        super().__init__(*args, callbacks=callbacks, **kwargs)
        for module in self.model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0


# `accelerate launch LAUNCHER RECIPE ...`: scripts/train.py, run with DeterministicTrainer in the pipeline.
LAUNCHER = """\
import runpy, sys
sys.path.insert(0, {tests!r})
from test_distributed import DeterministicTrainer
from hf_transfer.stages import train
train.TransferTrainer = DeterministicTrainer
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.fixture(scope="session")
def dropout_free_checkpoint(tmp_path_factory, tiny_tokenizer) -> Path:
    """The tiny BERT classifier of conftest with every dropout at 0 (hidden, attention, classifier)."""
    torch.manual_seed(0)
    config = tiny_text_config("bert", len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
    config.update(
        {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "classifier_dropout": 0.0}
    )
    path = tmp_path_factory.mktemp("dropout_free") / "bert"
    AutoModelForSequenceClassification.from_config(config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def start_weights(dropout_free_checkpoint) -> dict[str, torch.Tensor]:
    """The checkpoint's weights under the names a saved run uses: stock (``bert.…``) and multi-task
    (``backbone.…``)."""
    model = AutoModelForSequenceClassification.from_pretrained(dropout_free_checkpoint)
    backbone = {f"backbone.{k}": v for k, v in model.bert.state_dict().items()}
    return {**model.state_dict(), **backbone}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread, as each launched process has (torchrun sets OMP_NUM_THREADS=1): tiny models gain
    nothing from more, and on a busy 2-core machine threads contending for the cores make a run 4× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def deterministic_trainer(monkeypatch):
    """In-process runs use DeterministicTrainer; no interruption unless a test sets STOP_AT."""
    monkeypatch.setattr(train_stage, "TransferTrainer", DeterministicTrainer)
    monkeypatch.delenv(STOP_AT, raising=False)


def make_recipe(wrapper: str, checkpoint: Path, output_dir: Path, **overrides) -> dict:
    """A tiny recipe: 64 train rows (per data source), global batch 16, 3 steps, no saving or evaluation."""
    recipe = {
        "model_name_or_path": str(checkpoint),
        **SMALL_TEXT_DATA,
        **FAST_RUN,
        "max_steps": 3,  # wins over FAST_RUN's epoch
        "output_dir": str(output_dir),
        "use_cpu": True,  # comparisons run on the CPU (as in CI), also on a machine with a GPU
    }
    if wrapper == "dann":
        recipe.update(
            dataset_name="sentiment_domains",
            dataset_config_name="movies",
            target_dataset_name="sentiment_domains",
            target_dataset_config_name="amazon",
            adaptation={
                "type": "dann",
                "discriminator_dropout": 0.0,
                "discriminator_hidden": 32,
                "measure_domain_gap": False,
            },
        )
    elif wrapper == "multitask":  # two data sources: homogeneous batches drawn by TaskBatchSampler
        recipe["multitask"] = {
            "sampling": "proportional",
            "tasks": [
                {"name": "sentiment", "label_column": "label"},
                {"name": "domain", "dataset_name": "sentiment_domains", "dataset_config_name": "all"},
            ],
        }
    recipe.update(overrides)
    return recipe


# Runs compared for equality across devices or micro-batches train with plain SGD. They differ only in how the
# same rows are split, hence in float summation order: ~1e-7 relative in each gradient, which SGD passes on to
# the update unchanged (≤ 1e-7 of it). Adam would not: it divides each coordinate by its own gradient RMS, so a
# near-zero gradient whose sign flips with summation order (an embedding row seen once) becomes a full-size
# update of the opposite sign — on another CPU or thread count, 132 embedding weights once differed by 6.7e-5.
SGD = {"optim": "sgd", "learning_rate": 0.5}


def weights(output_dir: Path) -> dict[str, torch.Tensor]:
    output_dir = Path(output_dir)
    path = output_dir / "model.safetensors"
    return load_file(path if path.is_file() else output_dir / "adapter_model.safetensors")


def assert_same_weights(actual: Path, expected: Path, start: dict[str, torch.Tensor] | None = None) -> None:
    """The same weights up to float summation order: every tensor within 1e-4 of the run's largest update
    (measured differences ≤ 1e-6 of it with SGD; a different row, batch, loss scale or schedule moves weights
    by ≥ 1e-2 of it). With ``start`` (the weights before training) the runs must also have trained: the update
    is checked to be far larger than that tolerance, so the comparison can fail."""
    a, e = weights(actual), weights(expected)
    assert a.keys() == e.keys()
    update = 0.1  # without a start: the scale of 3 SGD steps at lr 0.5 on the tiny model (measured 0.05-0.3)
    if start is not None:
        moved = [
            (e[n] - start[n]).abs().max().item() for n in e if n in start and start[n].shape == e[n].shape
        ]
        update = max(moved)
        assert update > 1e-2, (
            f"the reference barely trained (largest update {update:.2e}): nothing to compare"
        )
    for name in e:
        torch.testing.assert_close(
            a[name], e[name], rtol=0, atol=1e-4 * update, msg=lambda m, n=name: f"{n}: {m}"
        )


def assert_exactly_resumed(actual: Path, expected: Path) -> None:
    """A resumed run replays the uninterrupted run's operations in the same order on the same machine: the same
    weights to ~1e-7 (Adam, which carries optimizer state across the resume, so a lost state shows)."""
    a, e = weights(actual), weights(expected)
    assert a.keys() == e.keys()
    for name in e:
        torch.testing.assert_close(a[name], e[name], rtol=1e-5, atol=1e-7, msg=lambda m, n=name: f"{n}: {m}")


def model_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not any(t in k for t in TIMING)}


def launch(args: list[str], timeout: int = 600, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "accelerate.commands.launch", *args]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # gloo on CPU processes, as in CI, even beside a GPU
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def two_processes(how: str, recipe_path: Path, tmp_path: Path, *overrides: str) -> None:
    """A 2-process gloo DDP run of ``scripts/train.py``: with the shipped config file, with ``--multi_gpu
    --num_processes 2``, or (``launcher``) with --multi_gpu and DeterministicTrainer installed."""
    multi = ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    multi += ["--dynamo_backend", "no"]
    if how == "config_file":
        launch(["--config_file", str(CPU_2PROC), str(TRAIN_SCRIPT), str(recipe_path), *overrides])
    elif how == "multi_gpu":
        launch([*multi, str(TRAIN_SCRIPT), str(recipe_path), *overrides])
    else:
        launcher = tmp_path / "launch_deterministic.py"
        launcher.write_text(LAUNCHER.format(tests=str(Path(__file__).parent), script=str(TRAIN_SCRIPT)))
        launch([*multi, str(launcher), str(recipe_path), *overrides])


@pytest.fixture(scope="module")
def reference(tmp_path_factory, dropout_free_checkpoint):
    """The 1-process runs with the whole batch (16 rows, 3 steps), one per wrapper, trained once per module."""
    runs: dict[str, object] = {}

    def get(wrapper: str):
        if wrapper not in runs:
            out = tmp_path_factory.mktemp(f"reference-{wrapper}") / "run"
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(train_stage, "TransferTrainer", DeterministicTrainer)
                patch.delenv(STOP_AT, raising=False)
                runs[wrapper] = train(make_recipe(wrapper, dropout_free_checkpoint, out, **SGD))
        return runs[wrapper]

    return get


# -- samplers: one optimizer step draws the 1-process global batch -------------------------------------------


def shard(sampler, batch_size: int, rank: int, processes: int = 2) -> list[list[int]]:
    """The batches accelerate gives ``rank`` (every N-th batch of the sampler's order)."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler

    return list(BatchSamplerShard(BatchSampler(sampler, batch_size, False), processes, rank))


@pytest.mark.parametrize("kind", ["domain_mix", "task_batches"])
def test_samplers_give_every_step_the_rows_of_one_big_batch(kind):
    """2 processes × batch 4 (or batch 4 × 2 accumulation steps) draw, step by step, the rows one process with
    batch 8 draws; within a step every batch has the same source/target split (DANN) or the same task."""

    def build(batch_size: int):
        if kind == "domain_mix":
            return DomainMixSampler(
                n_source=21, n_target=13, batch_size=batch_size, source_fraction=0.5, seed=3
            )
        return TaskBatchSampler([21, 13, 5], batch_size=batch_size, sampling="proportional", seed=3)

    whole, split = build(8), build(4)
    split.set_step_batches(2)  # what TransferTrainer sets: processes × accumulation steps
    for epoch in (0, 1):
        whole.set_epoch(epoch)
        split.set_epoch(epoch)
        big = shard(whole, 8, rank=0, processes=1)
        ranks = [shard(split, 4, rank=r) for r in (0, 1)]
        accumulated = shard(split, 4, rank=0, processes=1)
        assert len(split) == len(whole) and len(ranks[0]) == len(ranks[1]) == len(big)
        for step, rows in enumerate(big):
            assert sorted(ranks[0][step] + ranks[1][step]) == sorted(rows)
            assert sorted(accumulated[2 * step] + accumulated[2 * step + 1]) == sorted(rows)
            if kind == "domain_mix":  # 2 source + 2 target rows on each rank: equal per-device loss weights
                assert [sum(i < 21 for i in ranks[r][step]) for r in (0, 1)] == [2, 2]
            else:
                sources = {0 if i < 21 else 1 if i < 34 else 2 for i in ranks[0][step] + ranks[1][step]}
                assert len(sources) == 1
    # a resumed run (1 process, 2 accumulation steps) skips 3 steps' batches and then sees the rest of the order
    from accelerate.data_loader import SkipBatchSampler
    from torch.utils.data import BatchSampler

    skipped = SkipBatchSampler(BatchSampler(split, 4, False), skip_batches=3 * 2)
    assert [i for batch in skipped for i in batch] == list(split)[3 * 8 :]


def test_the_sampler_epoch_is_set_where_a_resumed_multi_process_run_skips_batches():
    """Resuming mid-epoch with several processes, accelerate's ``skip_first_batches`` wraps the
    ``BatchSamplerShard``, and ``DataLoaderShard.set_epoch`` no longer reaches the sampler: the callback does."""
    from accelerate.data_loader import BatchSamplerShard, DataLoaderShard, SkipBatchSampler
    from torch.utils.data import BatchSampler
    from transformers import TrainerControl, TrainerState

    sampler = DomainMixSampler(n_source=16, n_target=8, batch_size=4, seed=0)
    shard = BatchSamplerShard(BatchSampler(sampler, 4, False), num_processes=2, process_index=0)
    loader = DataLoaderShard(list(range(24)), batch_sampler=SkipBatchSampler(shard, skip_batches=1))
    loader.set_epoch(1)
    assert sampler.epoch == 0  # accelerate's behaviour, the reason for the callback
    SamplerEpochCallback(sampler).on_epoch_begin(None, TrainerState(epoch=1.25), TrainerControl())
    assert sampler.epoch == 1


# -- 2 processes (gloo DDP on CPU) = 1 process with the global batch -----------------------------------------

LAUNCHES = {"plain": "config_file", "dann": "multi_gpu", "multitask": "launcher"}


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_two_processes_train_like_one_process_with_the_global_batch(
    wrapper, dropout_free_checkpoint, reference, start_weights, tmp_path
):
    """`accelerate launch ... scripts/train.py` with 2 processes × batch 8 vs 1 process × batch 16, 3 steps:
    the same final weights (the samplers deal each step's global batch across the ranks; the loss is averaged,
    not summed, over processes), and only rank 0 writes: the output folder holds what a 1-process run writes."""
    out = tmp_path / "ddp"
    recipe = make_recipe(wrapper, dropout_free_checkpoint, out, **SGD)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    two_processes(LAUNCHES[wrapper], path, tmp_path, "--per_device_train_batch_size", "8")

    single = reference(wrapper)
    assert_same_weights(out, single.output_dir, start_weights)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and single.metrics["processes"] == 1
    assert metrics["train"]["train_loss"] == pytest.approx(single.metrics["train"]["train_loss"], rel=1e-5)
    for key, value in model_metrics(single.metrics["test"]).items():
        assert metrics["test"][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    # rank 0 alone writes: the same files as the 1-process run, each written once
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in single.output_dir.iterdir())
    assert len((out / "predictions_test.jsonl").read_text().splitlines()) == metrics["rows"]["test"]
    state = json.loads((out / "trainer_state.json").read_text())
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [1, 2, 3]


# -- every strategy: 2 processes = 1 process with the global batch ---------------------------------------------

# Each registered strategy (and layer-wise LR decay) on the tiny BERT. gradual_unfreezing unfreezes a block after
# every step, so blocks start training after DDP wrapped the model; feature extraction also runs with a feature
# cache shared by the processes (written by the main process first).
STRATEGY_RUNS = {
    "feature_extraction": {"strategy": {"type": "feature_extraction"}},
    "feature_extraction_cached": {"strategy": {"type": "feature_extraction", "cache_features": True}},
    "top_layers": {"strategy": {"type": "top_layers", "num_layers": 1}},
    "patterns": {"strategy": {"type": "patterns", "include": ["bert.encoder.layer.0.*", "bert.pooler.*"]}},
    "peft": {"strategy": {"type": "peft", "method": "lora", "r": 4, "dropout": 0.0, "top_layers": 2}},
    "gradual_unfreezing": {"strategy": {"type": "gradual_unfreezing", "every_steps": 1}},
    "auto_select": {"strategy": {"type": "auto_select", "num_layers": 1}},
    "layerwise_lr_decay": {"strategy": "full", "layerwise_lr_decay": 0.5},
}
MANY_RECIPES = """\
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_distributed import DeterministicTrainer
import hf_transfer
import hf_transfer.config.recipe
from hf_transfer.stages import train
train.TransferTrainer = DeterministicTrainer
# each rank computes another default folder name, as clocks a second apart would
hf_transfer.config.recipe.default_output_dir = lambda name: str(Path("outputs") / name / ("rank-" + os.environ["RANK"]))
for path in sys.argv[1:]:  # one process group, one run after another
    result = hf_transfer.train(path)
    print("OUTPUT_DIR", os.environ["RANK"], Path(path).stem, result.output_dir, flush=True)
"""


def strategy_recipe(name: str, checkpoint: Path, out: Path, tmp_path: Path, **overrides) -> dict:
    recipe = make_recipe("plain", checkpoint, out, **SGD, **STRATEGY_RUNS[name], **overrides)
    if name == "feature_extraction_cached":
        recipe["strategy"] = {**recipe["strategy"], "feature_cache_dir": str(tmp_path / f"cache-{out.name}")}
    return recipe


@pytest.fixture(scope="module")
def strategy_runs(tmp_path_factory, dropout_free_checkpoint) -> dict[str, tuple[Path, Path]]:
    """Per strategy: (1-process run with batch 16, 2-process run with batch 8 × 2), the 2-process runs in one
    `accelerate launch` (a process group reused run after run)."""
    root = tmp_path_factory.mktemp("strategies")
    runs, paths = {}, []
    for name in STRATEGY_RUNS:
        single = root / f"{name}-1proc"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(train_stage, "TransferTrainer", DeterministicTrainer)
            patch.delenv(STOP_AT, raising=False)
            train(strategy_recipe(name, dropout_free_checkpoint, single, root))
        ddp = root / f"{name}-2proc"
        recipe = strategy_recipe(name, dropout_free_checkpoint, ddp, root, per_device_train_batch_size=8)
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe))
        paths.append(str(path))
        runs[name] = (single, ddp)
    multi = ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    defaulted = make_recipe("plain", dropout_free_checkpoint, root / "unused", **SGD)
    del defaulted["output_dir"]  # outputs/defaulted/<name>, relative to the launch folder
    (root / "defaulted.yaml").write_text(yaml.safe_dump(defaulted))
    paths.append(str(root / "defaulted.yaml"))
    launcher = root / "launch_many.py"
    launcher.write_text(MANY_RECIPES.format(tests=str(Path(__file__).parent)))
    done = launch([*multi, "--dynamo_backend", "no", str(launcher), *paths], timeout=900, cwd=root)
    runs["defaulted"] = (root, done.stdout)
    return runs


def test_ranks_share_the_folder_rank_0_chose(strategy_runs):
    """Each rank computed another default name; every rank ends with rank 0's, which alone exists."""
    root, stdout = strategy_runs["defaulted"]
    reported = {line.split()[1]: line.split()[3] for line in stdout.splitlines() if " defaulted " in line}
    assert set(reported) == {"0", "1"} and reported["0"] == reported["1"] == "outputs/defaulted/rank-0"
    assert [p.name for p in (root / "outputs" / "defaulted").iterdir()] == ["rank-0"]
    assert (root / "outputs" / "defaulted" / "rank-0" / "metrics.json").is_file()


@pytest.mark.parametrize("name", list(STRATEGY_RUNS))
def test_every_strategy_trains_in_two_processes_like_one_process(name, strategy_runs, start_weights):
    """What trains, and only that, trains identically: frozen weights stay bit-identical to the checkpoint in
    both runs, and the trained ones agree (gradual unfreezing: blocks unfrozen after DDP wrapped the model are
    all-reduced like the rest)."""
    single, ddp = strategy_runs[name]
    assert_same_weights(ddp, single, start_weights if name != "peft" else None)
    if name == "peft":  # LoRA's B starts at zero: it moved, the same way in both runs
        assert any(
            key.endswith("lora_B.weight") and value.abs().max() > 0 for key, value in weights(ddp).items()
        )
    else:
        saved, shared = weights(single), weights(ddp)
        common = [k for k in saved if k in start_weights and start_weights[k].shape == saved[k].shape]
        trained = {k for k in common if not torch.equal(saved[k], start_weights[k])}
        assert trained, "nothing trained"
        for key in common:  # frozen in one run ⇔ frozen (bit-identical to the checkpoint) in the other
            assert torch.equal(shared[key], start_weights[key]) == (key not in trained), key
    metrics = json.loads((ddp / "metrics.json").read_text())
    assert metrics["processes"] == 2
    if name == "gradual_unfreezing":
        unfroze = [e["unfroze"] for e in metrics["strategy_report"]["unfreezing"]]
        assert unfroze[:2] == ["bert.encoder.layer.2", "bert.encoder.layer.1"]


def interrupt(output_dir: Path, checkpoint: str) -> None:
    """What a crash after the checkpoint leaves: the checkpoint, and no final outputs."""
    for path in output_dir.iterdir():
        if path.name != checkpoint:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert [p.name for p in output_dir.iterdir()] == [checkpoint]


@pytest.mark.slow
def test_a_two_process_dann_run_resumes_mid_epoch_like_the_uninterrupted_run(
    dropout_free_checkpoint, tmp_path, monkeypatch
):
    """2 processes, 4 steps per epoch, interrupted after step 5 (epoch 1, one batch in) and resumed: the same
    weights as the uninterrupted 2-process run (the sampler's epoch is set though the skip wraps the shard)."""
    runs = {}
    for name in ("uninterrupted", "interrupted"):
        out = tmp_path / name
        recipe = make_recipe(
            "dann", dropout_free_checkpoint, out, max_train_samples=32, max_steps=8, save_strategy="steps"
        )
        recipe.update(save_steps=5, per_device_train_batch_size=8)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe))
        runs[name] = (out, path)
    two_processes("launcher", runs["uninterrupted"][1], tmp_path)
    out, path = runs["interrupted"]  # Adam, as in a real run: a resumed run replays the same sums exactly
    monkeypatch.setenv(STOP_AT, "5")  # inherited by the launched processes
    two_processes("launcher", path, tmp_path)
    monkeypatch.delenv(STOP_AT)
    interrupt(out, "checkpoint-5")
    two_processes("launcher", path, tmp_path, "--resume_from_checkpoint", "true")
    assert_exactly_resumed(out, runs["uninterrupted"][0])


# -- resume after an interruption = the uninterrupted run -----------------------------------------------------


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_a_resumed_run_ends_like_the_uninterrupted_run(
    wrapper, dropout_free_checkpoint, tmp_path, monkeypatch
):
    """8 steps with a checkpoint every 5; the run interrupted after step 5 and resumed with
    `resume_from_checkpoint: true` ends with the same weights, test metrics and per-step logs (loss; DANN's λ),
    so the LR schedule, optimizer, λ schedule and the sampler's position (epoch 1 for DANN and multi-task, with
    4 steps per epoch; epoch 2 of 2-step epochs for plain; mid-epoch, so the Trainer skips batches) carry over."""

    def recipe(name: str, **extra) -> dict:
        return make_recipe(
            wrapper,
            dropout_free_checkpoint,
            tmp_path / name,
            max_train_samples=32,
            max_steps=8,
            save_strategy="steps",
            save_steps=5,
            **extra,
        )

    uninterrupted = train(recipe("uninterrupted"))
    monkeypatch.setenv(STOP_AT, "5")
    first = train(recipe("interrupted"))
    assert first.trainer.state.global_step == 5
    interrupt(first.output_dir, "checkpoint-5")
    monkeypatch.delenv(STOP_AT)
    resumed = train(recipe("interrupted", resume_from_checkpoint=True))

    assert resumed.trainer.state.global_step == 8
    assert_exactly_resumed(resumed.output_dir, uninterrupted.output_dir)
    expected = model_metrics(uninterrupted.metrics["test"])
    assert model_metrics(resumed.metrics["test"]) == pytest.approx(expected, rel=1e-5)

    def steps(result) -> dict[tuple[int, str], float]:
        logged = [e for e in result.trainer.state.log_history if "loss" in e and e["step"] > 5]
        return {(e["step"], k): e[k] for e in logged for k in LOGGED if k in e}

    assert steps(resumed) == pytest.approx(steps(uninterrupted), rel=1e-5)
    assert sorted({step for step, _ in steps(resumed)}) == [6, 7, 8]
    if wrapper == "dann":  # the λ schedule continued from step 5 of 8
        assert [step for step, key in steps(resumed) if key == "lambda"] == [6, 7, 8]


# -- gradient accumulation = the bigger batch ----------------------------------------------------------------


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_gradient_accumulation_trains_like_the_bigger_batch(
    wrapper, dropout_free_checkpoint, reference, start_weights, tmp_path
):
    """Batch 8 × 2 accumulation steps vs batch 16, 3 steps: the same weights (the loss of each micro-batch is
    divided by the accumulation steps; the samplers give a step's micro-batches the rows of one big batch)."""
    recipe = make_recipe(
        wrapper,
        dropout_free_checkpoint,
        tmp_path / "accumulated",
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,
        **SGD,
    )
    accumulated = train(recipe)
    assert_same_weights(accumulated.output_dir, reference(wrapper).output_dir, start_weights)
    assert accumulated.metrics["train"]["train_loss"] == pytest.approx(
        reference(wrapper).metrics["train"]["train_loss"], rel=1e-5
    )


def test_mixed_multitask_batches_closely_track_the_bigger_batch(dropout_free_checkpoint, tmp_path):
    """One dataset with several label columns (mixed batches, rows masked per task): MultiTaskModel averages each
    task's loss over the rows of a micro-batch (or device batch) that have its label, and those counts differ
    between micro-batches, so batch 8 × 2 cannot equal batch 16 exactly (mean of means ≠ mean). The runs still
    track each other: their difference is a small part of the update (12 % here, as measured)."""
    tasks = {
        "tasks": [
            {"name": "sentiment", "label_column": "sentiment"},
            {"name": "subjectivity", "label_column": "subjectivity"},
        ]
    }

    def run(name: str, **extra):
        recipe = make_recipe("plain", dropout_free_checkpoint, tmp_path / name, **extra)
        recipe.update(dataset_config_name="multitask", multitask=tasks, max_train_samples=96)
        return train(recipe)

    big = run("big")
    accumulated = run("accumulated", per_device_train_batch_size=8, gradient_accumulation_steps=2)
    start = AutoModelForSequenceClassification.from_pretrained(dropout_free_checkpoint).bert.state_dict()
    a, b = weights(accumulated.output_dir), weights(big.output_dir)
    difference = math.sqrt(sum(((a[n] - b[n]) ** 2).sum().item() for n in b))
    update = math.sqrt(
        sum(((b[n] - start[k]) ** 2).sum().item() for n in b if (k := n.removeprefix("backbone.")) in start)
    )
    assert 0 < difference < 0.25 * update  # measured: 0.12


# -- mixed precision ---------------------------------------------------------------------------------------


def finite_training(result) -> None:
    losses = [e["loss"] for e in result.trainer.state.log_history if "loss" in e]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert all(math.isfinite(v) for v in model_metrics(result.metrics["test"]).values())


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_bf16_trains_every_wrapper(wrapper, dropout_free_checkpoint, tmp_path):
    """`bf16: true`: 2 steps with finite losses and metrics (CUDA autocast with a GPU; on a CPU-only machine
    hf_transfer sets `use_cpu` for it, and autocasts on the CPU)."""
    gpu = torch.cuda.is_available()
    result = train(
        make_recipe(
            wrapper, dropout_free_checkpoint, tmp_path / "bf16", max_steps=2, bf16=True, use_cpu=not gpu
        )
    )
    assert result.trainer.args.bf16
    finite_training(result)


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="fp16 mixed precision needs a CUDA GPU (CPU autocast is bf16)"
)
@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_fp16_trains_every_wrapper_on_a_gpu(wrapper, dropout_free_checkpoint, tmp_path):
    result = train(
        make_recipe(
            wrapper, dropout_free_checkpoint, tmp_path / "fp16", max_steps=2, fp16=True, use_cpu=False
        )
    )
    assert result.trainer.args.fp16
    finite_training(result)


def test_the_shipped_fsdp_config_on_cpu_trains_as_ddp_says_so_and_saves_a_model_that_reloads(
    tiny_checkpoints, tmp_path
):
    """configs/accelerate/fsdp.yaml with 2 processes on a CPU-only machine (its CPU twin: 2 processes, no mixed
    precision): accelerate (1.15) applies FSDP only on GPU-like devices, so the run is DDP over gloo. The run says
    so, records ``distributed_type: MULTI_CPU``, and its saved model reproduces the run's test metrics."""
    from hf_transfer import evaluate

    config = yaml.safe_load((ROOT / "configs" / "accelerate" / "fsdp.yaml").read_text())
    config.update(num_processes=2, mixed_precision="no")
    twin = tmp_path / "cpu_fsdp.yaml"
    twin.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {"model_name_or_path": str(tiny_checkpoints["bert"]), **SMALL_TEXT_DATA, **FAST_RUN, "max_steps": 3,
             "output_dir": str(out)}
        )
    )
    done = launch(["--config_file", str(twin), str(TRAIN_SCRIPT), str(recipe)])
    assert "asks for FSDP, but accelerate runs this job as MULTI_CPU" in done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["distributed_type"] == "MULTI_CPU"
    again = evaluate(out, split="test")
    assert again["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert again["loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-5)
