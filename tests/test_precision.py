"""The default precision: an unset `bf16` autocasts on a CPU with native bf16, and metrics.json says why."""

from __future__ import annotations

import json

import pytest
import torch

from hf_transfer import train
from hf_transfer.config import precision
from hf_transfer.config.recipe import parse_recipe
from hf_transfer.errors import RecipeError

BASE = {"model_name_or_path": "some/model", "dataset_name": "rotten_tomatoes_snippets", "output_dir": "/tmp/x"}
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU-only default")


@pytest.fixture
def unlaunched(monkeypatch):
    """No `accelerate launch` precision in the environment (conftest pins `no` for every other test)."""
    monkeypatch.delenv(precision.LAUNCH_PRECISION_ENV, raising=False)
    return monkeypatch


@cpu_only
@pytest.mark.parametrize("native", [True, False])
def test_unset_bf16_follows_the_cpu(unlaunched, native):
    unlaunched.setattr(precision, "cpu_has_native_bf16", lambda: native)
    args = parse_recipe(dict(BASE)).training
    assert args.bf16 is native and args.mixed_precision == ("bf16" if native else "no")
    assert args.precision_rule.startswith("on" if native else "off") and "native bf16" in args.precision_rule
    assert args.use_cpu is native  # CPU autocast needs `use_cpu` on a CPU-only machine


@cpu_only
@pytest.mark.parametrize("value", [False, True])
def test_a_set_bf16_wins_over_the_cpu(unlaunched, value):
    unlaunched.setattr(precision, "cpu_has_native_bf16", lambda: not value)
    args = parse_recipe({**BASE, "bf16": value}).training
    assert args.bf16 is value and args.precision_rule.endswith("bf16 is set")


@pytest.mark.parametrize("launched", ["no", "bf16"])
def test_the_launch_precision_decides_an_unset_bf16(unlaunched, launched):
    unlaunched.setenv(precision.LAUNCH_PRECISION_ENV, launched)
    unlaunched.setattr(precision, "cpu_has_native_bf16", lambda: True)
    args = parse_recipe(dict(BASE)).training
    assert args.bf16 is (launched == "bf16") and f"mixed_precision is {launched}" in args.precision_rule


def test_fp16_or_an_accelerator_keeps_an_unset_bf16_off(unlaunched):
    unlaunched.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.default_bf16(use_cpu=True, fp16=True) == (False, "off: fp16 is set")
    unlaunched.setattr(precision, "has_accelerator", lambda: True)
    assert precision.default_bf16(use_cpu=False, fp16=False)[0] is False
    assert precision.default_bf16(use_cpu=True, fp16=False)[0] is True  # a CPU run on a GPU machine


@cpu_only
def test_metrics_record_the_precision_and_its_rule(unlaunched, tiny_recipe, tmp_path):
    unlaunched.setattr(precision, "cpu_has_native_bf16", lambda: True)
    auto = train(tiny_recipe("bert", max_steps=2, output_dir=str(tmp_path / "auto")))
    assert auto.metrics["precision"] == {
        "mixed_precision": "bf16",
        "rule": "on: this CPU has native bf16 (AVX512-BF16/AMX)",
    }
    assert json.loads((auto.output_dir / "metrics.json").read_text())["precision"]["mixed_precision"] == "bf16"
    assert "bf16" not in (auto.output_dir / "recipe.yaml").read_text()  # the rule, not its outcome, travels
    fp32 = train(tiny_recipe("bert", max_steps=2, bf16=False, output_dir=str(tmp_path / "fp32")))
    assert fp32.metrics["precision"] == {"mixed_precision": "no", "rule": "off: bf16 is set"}


def test_a_bf16_that_is_not_a_boolean_is_refused_naming_the_key():
    with pytest.raises(RecipeError, match=r"`bf16` must be true or false, got 'maybe'"):
        parse_recipe({**BASE, "bf16": "maybe"})
