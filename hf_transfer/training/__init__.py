"""Training: the ``Trainer`` subclass and the end-to-end pipeline."""

from .pipeline import TrainResult, evaluate, train
from .trainer import TransferTrainer

__all__ = ["TrainResult", "TransferTrainer", "evaluate", "train"]
