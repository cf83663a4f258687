"""``TransferTrainer``: ``transformers.Trainer`` whose saved folders hold no pickles."""

from __future__ import annotations

import os

from transformers import Trainer
from transformers.trainer import TRAINING_ARGS_NAME

TRAINING_ARGS_JSON = "training_args.json"


class TransferTrainer(Trainer):
    """A ``Trainer`` that writes its arguments as JSON instead of a pickled ``training_args.bin``.

    Everything else is the stock ``Trainer``: devices, precision and distribution come from accelerate.
    """

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        super()._save(output_dir, state_dict)
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if self.args.should_save:
            pickled = os.path.join(output_dir, TRAINING_ARGS_NAME)
            if os.path.exists(pickled):
                os.remove(pickled)
            with open(os.path.join(output_dir, TRAINING_ARGS_JSON), "w", encoding="utf-8") as f:
                f.write(self.args.to_json_string())
