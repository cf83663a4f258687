"""``multitask``: one shared backbone and a head per task.

Modules: ``config`` (the ``multitask`` block), ``objective`` (the objective), ``data`` (task data, packed labels,
the task batch sampler), ``metrics`` (per-task metrics and their means), ``predictions`` (per-task decoding).
The model is :class:`hf_transfer.wrappers.MultiTaskModel`.
"""

from .config import SAMPLINGS, MultiTaskArguments, MultiTaskSettings, TaskSpec
from .data import MultiTaskData, TaskBatchSampler, build_multitask_data
from .metrics import MultiTaskMetrics
from .objective import MultiTask
from .predictions import decode_tasks

__all__ = [
    "SAMPLINGS",
    "MultiTask",
    "MultiTaskArguments",
    "MultiTaskData",
    "MultiTaskMetrics",
    "MultiTaskSettings",
    "TaskBatchSampler",
    "TaskSpec",
    "build_multitask_data",
    "decode_tasks",
]
