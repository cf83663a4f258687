"""Training: ``TransferTrainer`` (a ``transformers.Trainer``), output-folder safety, a run up to the Trainer."""

from .outputs import check_output_dir, claim_output_dir
from .prepare import PreparedRun, prepare_run
from .trainer import TransferTrainer

__all__ = ["PreparedRun", "TransferTrainer", "check_output_dir", "claim_output_dir", "prepare_run"]
