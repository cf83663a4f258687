"""``hf-transfer predict MODEL_DIR [INPUT ...] [--text TEXT ...] [--file FILE] [--image PATH ...]``.

Texts come as positional arguments, after ``--text`` (several after one, or repeated) or from ``--file``; images
as paths after ``--image`` or positionally (for an image model)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import DataError, OutputDirError
from ..inference import Predictor, read_texts


def predict_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="label texts or images with a trained model",
        description="Print the predicted label and its score for each text or image (tab-separated), or write "
        "JSON Lines.",
    )
    parser.add_argument(
        "model_dir",
        help="folder written by `hf-transfer train` (or any saved classifier), or the Hub repo it was pushed to",
    )
    parser.add_argument("--revision", help="the Hub repo's branch, tag or commit (default: main)")
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="texts to label (image files, for an image model)"
    )
    parser.add_argument(
        "--text", nargs="+", action="extend", default=[], help="texts to label (several after one --text, or repeat it)"
    )
    parser.add_argument("--file", help="a .txt file (one text per line) or csv/tsv/json/jsonl/parquet file")
    parser.add_argument("--text_column", default="text", help="text column of --file (default: text)")
    parser.add_argument(
        "--image", nargs="+", default=[], help="image files to label (an image model; png, jpg, …)"
    )
    parser.add_argument("--top_k", type=int, default=1, help="also list the k most likely labels")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--output", help="write JSON Lines here instead of printing (never an existing file)")
    parser.add_argument("--overwrite", action="store_true", help="let --output replace an existing file")
    parser.set_defaults(func=run_predict)
    return parser


def run_predict(args, extra) -> int:
    if args.output and Path(args.output).exists() and (Path(args.output).is_dir() or not args.overwrite):
        problem = "is a folder" if Path(args.output).is_dir() else "already exists"
        raise OutputDirError(
            f"--output {args.output} {problem}: choose a new file path"
            + ("." if Path(args.output).is_dir() else ", or pass --overwrite to replace it.")
        )
    texts = list(args.text)
    if args.file:
        texts += read_texts(args.file, args.text_column)
    if not texts and not args.image and not args.inputs:
        raise DataError(
            "Nothing to predict: pass texts (`predict DIR \"text one\" \"text two\"` or --text TEXT ...), "
            "--file FILE or --image PATH ...."
        )
    predictor = Predictor(args.model_dir, revision=args.revision)
    if predictor.images:
        args.image = [*args.inputs, *args.image]
    else:
        texts = [*args.inputs, *texts]
    if predictor.images != bool(args.image) or (texts and args.image):
        kind = "an image" if predictor.images else "a text"
        fix = "--image PATH ..." if predictor.images else "--text / --file"
        raise DataError(f"{args.model_dir} is {kind} model: pass {fix}.")
    missing = [path for path in args.image if not Path(path).is_file()]
    if missing:
        raise DataError(f"Image file(s) not found: {', '.join(missing)}.")
    inputs = args.image or texts
    predictions = predictor(inputs, batch_size=args.batch_size, top_k=args.top_k, progress=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for record in predictions:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"wrote {len(predictions)} predictions to {args.output}")
        return 0
    key = "image" if predictor.images else "text"
    for record in predictions:
        if "label" not in record:  # a multi-task model: task=prediction columns, then the input
            columns = [f"{task}={_short(value)}" for task, value in record.items() if task != key]
            print("\t".join([*columns, str(record[key])]))
            continue
        alternatives = ""
        if "top_k" in record:
            alternatives = "\t" + " ".join(f"{alt['label']}={alt['score']:.4f}" for alt in record["top_k"])
        print(f"{record['label']}\t{record['score']:.4f}\t{record[key]}{alternatives}")
    return 0


def _short(prediction: dict) -> str:
    """One task's prediction in a few characters: ``positive(0.9731)``, ``[cast,plot]``, ``1.8400``."""
    if "value" in prediction:
        return f"{prediction['value']:.4f}"
    if "labels" in prediction:
        return "[" + ",".join(prediction["labels"]) + "]"
    return f"{prediction['label']}({prediction['score']:.4f})"
