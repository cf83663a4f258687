"""Long steps outside the Trainer's loop show a progress bar (tqdm, on stderr) unless ``disable_tqdm``: feature
caching, the domain-gap passes before and after training, and ``predict`` over many inputs."""

from __future__ import annotations

import pytest
from conftest import DANN_DOMAINS

from hf_transfer import train
from hf_transfer.cli.main import main


@pytest.mark.parametrize(
    ("overrides", "bars"),
    [
        (
            {"strategy": {"type": "feature_extraction", "cache_features": True}, "pooling": "mean"},
            ["Feature extraction (train)", "Feature extraction (validation)", "Feature extraction (test)"],
        ),
        (
            DANN_DOMAINS,
            [f"Domain gap {when} training ({side})" for when in ("before", "after") for side in ("source", "target")],
        ),
    ],
    ids=["feature-cache", "domain-gap"],
)
@pytest.mark.parametrize("disable_tqdm", [False, True])
def test_long_steps_show_a_bar_unless_disabled(overrides, bars, disable_tqdm, tiny_recipe, capsys):
    capsys.readouterr()
    train(tiny_recipe(**overrides, max_steps=2, disable_tqdm=disable_tqdm))
    shown = capsys.readouterr().err
    for bar in bars:
        assert (bar in shown) != disable_tqdm, bar


def test_predict_over_many_texts_shows_a_bar(tiny_recipe, tmp_path, capsys):
    out = train(tiny_recipe(max_steps=1)).output_dir
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"text number {i}" for i in range(5)) + "\n")
    capsys.readouterr()
    assert main(["predict", str(out), "--file", str(texts), "--batch_size", "2"]) == 0
    captured = capsys.readouterr()
    assert "predict" in captured.err and len(captured.out.strip().splitlines()) == 5
