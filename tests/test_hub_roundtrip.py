"""Publishing end to end through the real ``huggingface_hub`` client and a Hub-API server on loopback
(``tests/hub_server.py``): every kind of result is pushed with ``hf-transfer push``, then loaded in a fresh process
that has nothing local (only ``HF_ENDPOINT`` and an empty cache) with stock classes, ``pipeline``, the card's
snippet and ``hf_transfer.predict``, giving the local export's logits; second pushes mirror, branches, private
repos, refusals, failed commits and dropped uploads behave as on the Hub, and the token travels only in the
``Authorization`` header."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hub_loading import IMAGES, card_summary, hf_transfer_outputs, model_inputs
from hub_server import HubServer, client_env
from huggingface_hub import ModelCard
from test_publish import KINDS

from hf_transfer import train
from hf_transfer.modeling import backbones
from hf_transfer.wrappers import load_trained_classifier

TESTS = Path(__file__).resolve().parent
ALICE = "hf_AliceWritesHerOwnRepos0123456789abcd"
BOB = "hf_BobOwnsAnotherNamespace0123456789abc"
ORG = "hf_TinyOrgPublishesTheBases0123456789ab"
# the class a Hub user gets (hf_transfer's pooled and multi-task classes come as remote code)
STOCK_CLASSES = {"full": "BertForSequenceClassification", "pooled": "PooledClassifier", "multitask": "MultiTaskModel",
                 "image": "ViTForImageClassification", "lora": "PeftModelForSequenceClassification"}
BASES = {"bert": "tiny-org/tiny-bert", "vit": "tiny-org/tiny-vit", "mobilenet_v2": "tiny-org/tiny-mobilenet-v2"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory, tiny_checkpoints, tiny_image_checkpoints):
    """The test Hub: alice, bob and tiny-org's tokens; tiny-org's repos hold the tiny base checkpoints, as the
    real Hub holds the checkpoints recipes name."""
    folders = {"bert": tiny_checkpoints["bert"], **tiny_image_checkpoints}
    tokens = {ALICE: "alice", BOB: "bob", ORG: "tiny-org"}
    # bounded: it stops itself after 30 minutes or 20,000 requests (this module makes about 2,000)
    with HubServer(tmp_path_factory.mktemp("hub"), tokens, max_seconds=1800, max_requests=20_000) as server:
        for arch, repo_id in BASES.items():
            server.seed(repo_id, folders[arch])
        yield server


@pytest.fixture
def bases(monkeypatch, tiny_checkpoints, tiny_image_checkpoints):
    """In this (offline) process the base ids resolve to the same tiny folders the test Hub holds, as the offline
    packages stand in for Hub ids; the exports name the ids."""
    folders = {"bert": tiny_checkpoints["bert"], **tiny_image_checkpoints}
    for arch, repo_id in BASES.items():
        stand_in = SimpleNamespace(package=f"tiny_{arch}", requirement="-", extra="-", path=lambda f=folders[arch]: f)
        monkeypatch.setitem(backbones.OFFLINE_CHECKPOINTS, repo_id, stand_in)
    return BASES


def hub_env(server: HubServer, home: Path, token: str | None = None) -> dict[str, str]:
    """A process that talks to the test Hub only: its endpoint, an empty cache, the token if given, fp32."""
    env = client_env(server.endpoint, token=token, home=str(home))
    return env | {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "ACCELERATE_MIXED_PRECISION": "no"}


def push(server, out: Path, repo_id: str, *options: str, token: str | None = ALICE, home: Path | None = None):
    """``hf-transfer push OUT --repo-id REPO_ID OPTIONS`` in its own process, against the test Hub."""
    return subprocess.run(
        [sys.executable, "-m", "hf_transfer", "push", str(out), "--repo-id", repo_id, *options],
        env=hub_env(server, home or out.parent / "push-home", token),
        capture_output=True,
        text=True,
        timeout=300,
    )


def load_fresh_process(server, tmp_path: Path, request: dict, token: str | None = None):
    """``tests/hub_loading.py`` in a fresh process with an empty cache: what a Hub user gets."""
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(request))
    home = tmp_path / f"fresh-home-{len(list(tmp_path.glob('fresh-home-*')))}"
    return subprocess.run(
        [sys.executable, str(TESTS / "hub_loading.py"), str(request_file)],
        env=hub_env(server, home, token),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


def load_fresh(server, tmp_path: Path, request: dict, token: str | None = None) -> dict:
    """What :func:`load_fresh_process` reports, once it succeeded."""
    done = load_fresh_process(server, tmp_path, request, token)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT ")][-1]
    return json.loads(line.removeprefix("RESULT "))


def train_on_hub_bases(kind: str, tiny_recipe, tiny_image_recipe, **extra):
    overrides = {**KINDS[kind][0], **extra}
    if kind in IMAGES:
        arch = "mobilenet_v2" if kind == "image_lora" else "vit"
        return train(tiny_image_recipe(arch, model_name_or_path=BASES[arch], max_steps=2, **overrides))
    return train(tiny_recipe("bert", model_name_or_path=BASES["bert"], max_steps=2, learning_rate=5e-2, **overrides))


def sample_images(image_folder) -> list[str]:
    return sorted(str(p) for p in (image_folder / "test").rglob("*.png"))[:3]


def assert_close_values(got, want) -> None:
    """The same structure and strings, floats equal within 1e-5 (scores computed in two processes)."""
    if isinstance(want, float):
        assert got == pytest.approx(want, abs=1e-5)
    elif isinstance(want, dict):
        assert set(got) == set(want)
        for key in want:
            assert_close_values(got[key], want[key])
    elif isinstance(want, list):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            assert_close_values(a, b)
    else:
        assert got == want


def local_reference(export: Path, kind: str, images: list[str]) -> dict:
    """The local export's logits (loaded by hf_transfer, its base resolved here offline), its merged model's and its
    card: what the Hub copy must reproduce."""
    from transformers import AutoModelForSequenceClassification

    _, inputs = model_inputs(str(export), kind, images, None)
    with torch.no_grad():
        reference = {"logits": load_trained_classifier(export).eval()(**inputs).logits.tolist()}
        if kind == "lora":
            merged = AutoModelForSequenceClassification.from_pretrained(export / "merged").eval()
            reference["merged_logits"] = merged(**inputs).logits.tolist()
    reference["card"] = card_summary(ModelCard.load(export / "README.md"))
    return reference


def assert_same(remote: dict, local: dict) -> None:
    """The Hub copy's logits are the local model's, its card is the local card, and ``pipeline`` gives each row the
    label and probability of its logits."""
    logits = torch.tensor(remote["logits"])
    torch.testing.assert_close(logits, torch.tensor(local["logits"]), rtol=0, atol=1e-5)
    if "merged_logits" in local:
        torch.testing.assert_close(torch.tensor(remote["merged_logits"]), torch.tensor(local["merged_logits"]))
    assert remote["card"] == local["card"]
    for row, served in zip(logits.softmax(-1), remote.get("pipeline", ()), strict="pipeline" in remote):
        assert served["label"] == remote["id2label"][str(int(row.argmax()))]
        assert served["score"] == pytest.approx(float(row.max()), abs=1e-4)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_pushed_loads_from_the_hub_in_a_fresh_process_like_the_local_export(
    kind, hub, bases, tiny_recipe, tiny_image_recipe, image_folder, tmp_path
):
    result = train_on_hub_bases(kind, tiny_recipe, tiny_image_recipe)
    out = result.output_dir
    repo_id = f"alice/{kind.replace('_', '-')}"
    done = push(hub, out, repo_id)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"pushed {out} to {repo_id}: {hub.endpoint}/{repo_id}/commit/" in done.stdout

    images = sample_images(image_folder) if kind in IMAGES else []
    local_export = out / "hub_export"  # rendered for the repo: its card names repo_id
    local = local_reference(local_export, kind, images)
    local_predictions = hf_transfer_outputs(str(local_export), kind, images)
    assert local["card"]["name"] == repo_id.split("/")[-1]  # the card names the repo
    shutil.rmtree(out)  # nothing local: the fresh process has only the repo id

    remote = load_fresh(hub, tmp_path, {"source": repo_id, "kind": kind, "images": images})
    assert_same(remote["stock"], local)
    assert remote["stock"]["model_class"] == STOCK_CLASSES.get(kind, remote["stock"]["model_class"])
    assert_close_values(remote["predict"], local_predictions)
    if kind.startswith("multitask"):
        assert "sentiment" in remote["snippet_printed"] and "subjectivity" in remote["snippet_printed"]
    elif kind not in IMAGES:
        assert "negative" in remote["snippet_printed"] and "positive" in remote["snippet_printed"]
    if kind == "lora":
        assert remote["stock"]["merged_class_module"].startswith("transformers.models.")


# -- what users hit on real Hubs ------------------------------------------------------------------------------


@pytest.fixture
def full_run(bases, tiny_recipe):
    return train(tiny_recipe("bert", model_name_or_path=BASES["bert"], max_steps=1)).output_dir


def retry_of(stderr: str) -> list[str]:
    """The printed retry command, as this interpreter runs it."""
    import shlex

    command = shlex.split(stderr.split("Retry with: ", 1)[1].splitlines()[0])
    assert command[:2] == ["hf-transfer", "push"], command
    return [sys.executable, "-m", "hf_transfer", *command[1:]]


def test_a_second_push_mirrors_the_changed_run_in_one_commit(hub, bases, tiny_recipe, tmp_path):
    lora = {"type": "peft", "top_layers": 1}
    first = train(tiny_recipe("bert", model_name_or_path=BASES["bert"], max_steps=1, output_dir=str(tmp_path / "a"),
                              strategy={**lora, "merge": True})).output_dir
    assert push(hub, first, "alice/mirrored").returncode == 0
    hub.commit_files("alice/mirrored", {"docs/notes.md": b"a file the user added"}, user="alice")
    assert "merged/model.safetensors" in hub.files("alice/mirrored")
    commits = len(hub.commits("alice/mirrored"))

    second = train(tiny_recipe("bert", model_name_or_path=BASES["bert"], max_steps=2, output_dir=str(tmp_path / "b"),
                               strategy={**lora, "merge": False})).output_dir
    assert push(hub, second, "alice/mirrored").returncode == 0
    files = hub.files("alice/mirrored")
    assert not [f for f in files if f.startswith("merged/")] and "docs/notes.md" in files
    assert set(files) >= {p.relative_to(second / "hub_export").as_posix() for p in (second / "hub_export").rglob("*")
                          if p.is_file()}
    log = hub.commits("alice/mirrored")
    assert len(log) == commits + 1  # the upload and the deletions in one commit
    assert "merged/model.safetensors" in log[-1]["deleted"] and "adapter_model.safetensors" in log[-1]["changed"]


def test_a_revision_push_goes_to_its_branch_and_loads_with_revision(hub, full_run, tmp_path):
    done = push(hub, full_run, "alice/branched", "--revision", "experiment-1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "config.json" in hub.files("alice/branched", "experiment-1")
    assert "config.json" not in hub.files("alice/branched", "main")
    local = local_reference(full_run / "hub_export", "full", [])
    remote = load_fresh(hub, tmp_path, {"source": "alice/branched", "kind": "full", "images": [],
                                        "revision": "experiment-1"})
    torch.testing.assert_close(torch.tensor(remote["stock"]["logits"]), torch.tensor(local["logits"]))
    assert_close_values(remote["predict"], hf_transfer_outputs(str(full_run / "hub_export"), "full", []))


def test_a_private_push_creates_a_private_repo_that_only_its_owner_reads(hub, full_run, tmp_path):
    assert push(hub, full_run, "alice/secret", "--private").returncode == 0
    assert hub.is_private("alice/secret")
    request = {"source": "alice/secret", "kind": "full", "images": [], "snippet": False}
    for token in (None, BOB):
        refused = load_fresh_process(hub, tmp_path, request, token)
        assert refused.returncode != 0 and "RepositoryNotFoundError" in refused.stderr
    assert load_fresh(hub, tmp_path, request, token=ALICE)["stock"]["model_class"] == "BertForSequenceClassification"


def test_pushes_the_hub_refuses_fail_with_what_to_do_and_keep_the_export(hub, full_run):
    hub.seed("bob/taken", full_run, user="bob")
    done = push(hub, full_run, "bob/taken")
    assert done.returncode != 0
    assert "The token's user 'alice' may not write to 'bob'" in done.stderr and "alice/taken" in done.stderr
    assert "Retry with: hf-transfer push" in done.stderr and (full_run / "hub_export" / "model.safetensors").is_file()

    shutil.rmtree(full_run / "hub_export")
    done = push(hub, full_run, "datasets/alice/reviews")
    assert done.returncode != 0 and "names a dataset repo" in done.stderr and "'alice/reviews'" in done.stderr
    assert not (full_run / "hub_export").exists()  # refused before anything was written

    done = push(hub, full_run, "alice/refused", token="hf_NotATokenTheHubKnows0123456789abcdef")
    assert done.returncode != 0 and "The Hub refused the token" in done.stderr


def test_one_dropped_upload_is_retried_by_the_client_and_the_push_succeeds(hub, full_run):
    hub.fail_next("lfs_upload", drop=True, times=1)
    done = push(hub, full_run, "alice/dropped-once")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["status"] for r in hub.requests if r["op"] == "lfs_upload"].count("dropped") == 1
    assert "model.safetensors" in hub.files("alice/dropped-once")


@pytest.mark.parametrize(
    "fault",
    # the client retries an LFS upload 5 times (1 + 2 + 4 + 8 + 8 s), never a commit
    [{"on": "commit", "status": 500, "times": 1}, {"on": "lfs_upload", "drop": True, "times": 100}],
    ids=["commit-500", "dropped-uploads"],
)
def test_a_failed_push_keeps_the_export_prints_the_retry_and_the_retry_succeeds(hub, full_run, fault):
    repo_id = f"alice/retried-{fault['on'].replace('_', '-')}"
    hub.fail_next(fault["on"], status=fault.get("status", 500), drop=fault.get("drop", False), times=fault["times"])
    done = push(hub, full_run, repo_id)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Nothing is lost: the export folder is intact" in done.stderr
    export = {p.relative_to(full_run).as_posix(): p.read_bytes() for p in (full_run / "hub_export").rglob("*")
              if p.is_file()}
    assert "hub_export/model.safetensors" in export
    assert "config.json" not in hub.files(repo_id)  # nothing half-committed
    hub.clear_faults()

    again = subprocess.run(retry_of(done.stderr), env=hub_env(hub, full_run.parent / "retry-home", ALICE),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {"config.json", "model.safetensors", "README.md"} <= set(hub.files(repo_id))
    assert hub.read(repo_id, "model.safetensors") == export["hub_export/model.safetensors"]


def test_the_token_travels_only_in_the_authorization_header(hub, full_run, tmp_path):
    hub.fail_next("commit", status=500)
    failed = push(hub, full_run, "alice/token-check")
    hub.clear_faults()
    done = push(hub, full_run, "alice/token-check")
    assert failed.returncode != 0 and done.returncode == 0
    ours = [r for r in hub.requests if "token-check" in r["path"] or r["op"] == "lfs_upload"]
    writes = [r for r in ours if r["method"] == "POST" and r["status"] == 200]  # (a fault answers before auth)
    assert writes and all(r["user"] == "alice" for r in writes)  # every API write came with alice's header
    uploads = [r for r in ours if r["op"] == "lfs_upload"]
    assert all(r["user"] is None for r in uploads)  # the storage URL gets a ticket, never the token
    for text in (failed.stdout, failed.stderr, done.stdout, done.stderr, json.dumps(hub.requests)):
        assert ALICE not in text
    stored = [p for p in hub.root.rglob("*") if p.is_file() and ALICE.encode() in p.read_bytes()]
    assert not stored, stored
    assert all(ALICE.encode() not in p.read_bytes() for p in full_run.rglob("*") if p.is_file())


# -- push_to_hub in a recipe, in one and in two processes -----------------------------------------------------


def recipe_file(tmp_path: Path, checkpoint: Path, repo_id: str, **overrides) -> Path:
    import yaml
    from conftest import FAST_RUN, SMALL_TEXT_DATA

    recipe = {
        "model_name_or_path": BASES["bert"],  # fetched from the test Hub
        **SMALL_TEXT_DATA,
        **FAST_RUN,
        "max_steps": 2,
        "output_dir": str(tmp_path / "run"),
        "push_to_hub": True,
        "hub_model_id": repo_id,
        **overrides,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_push_to_hub_in_a_recipe_pushes_once_after_training(processes, hub, tiny_checkpoints, tmp_path):
    repo_id = f"alice/from-recipe-{processes}"
    path = recipe_file(tmp_path, tiny_checkpoints["bert"], repo_id)
    if processes == 1:
        command = [sys.executable, "-m", "hf_transfer", "train", str(path)]
    else:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   str(TESTS.parent / "scripts" / "train.py"), str(path)]
    env = {**hub_env(hub, tmp_path / "home", ALICE), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    commits = [r for r in hub.requests if r["method"] == "POST" and r["path"].endswith("/commit/main")
               and repo_id in r["path"]]
    assert len(commits) == 1  # one push, from rank 0, after training; never the Trainer's own
    assert {"config.json", "model.safetensors", "README.md", "metrics.json"} <= set(hub.files(repo_id))
    assert ALICE not in done.stdout + done.stderr
    pushed = json.loads(hub.read(repo_id, "metrics.json"))
    assert pushed["processes"] == processes and (pushed["model"], pushed["model_source"]) == (BASES["bert"], "hub")


def test_a_model_that_is_neither_a_folder_nor_a_reachable_repo_is_named_with_the_fix(tmp_path):
    from hf_transfer import predict
    from hf_transfer.errors import ModelResolutionError

    with pytest.raises(ModelResolutionError, match="does not exist: pass the output folder"):
        predict(str(tmp_path / "no-such-run"), ["text"])
    with pytest.raises(ModelResolutionError, match="Could not download the Hub repo 'nobody/no-such-model'"):
        predict("nobody/no-such-model", ["text"])  # offline here, and not in the cache
