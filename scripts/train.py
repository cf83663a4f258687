#!/usr/bin/env python
"""The ``accelerate launch`` entry point: train a recipe on whatever accelerate was told to use.

    accelerate launch scripts/train.py sentiment/minilm_full                                     # 1 process
    accelerate launch --multi_gpu --num_processes 2 scripts/train.py RECIPE.yaml --num_train_epochs 1
    accelerate launch --config_file configs/accelerate/fsdp.yaml scripts/train.py RECIPE.yaml

The arguments are those of ``hf-transfer train`` (a recipe name or file, then ``--field value`` overrides);
``accelerate launch -m hf_transfer train RECIPE`` is the same. Devices, precision and distribution are
accelerate's; only the main process writes the output folder.
"""

import sys

from hf_transfer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
