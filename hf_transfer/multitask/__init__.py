"""Multi-task learning: the recipe's ``multitask`` block, task data and sampling, per-task metrics.

The model is :class:`hf_transfer.wrappers.MultiTaskModel` (a shared backbone and one head per task).
"""

from .config import SAMPLINGS, MultiTaskSettings, TaskSpec
from .data import MultiTaskData, TaskBatchSampler, build_multitask_data
from .metrics import MultiTaskMetrics
from .predictions import decode_tasks

__all__ = [
    "SAMPLINGS",
    "MultiTaskData",
    "MultiTaskMetrics",
    "MultiTaskSettings",
    "TaskBatchSampler",
    "TaskSpec",
    "build_multitask_data",
    "decode_tasks",
]
