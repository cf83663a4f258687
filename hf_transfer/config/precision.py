"""The default precision of a run: bf16 autocast where the CPU computes bf16 natively, fp32 elsewhere.

Measured on this project's 2-core AVX512-BF16 CPU (``docs/benchmarks.md``, issue 15): full fine-tuning of
all-MiniLM-L6-v2 1.44× faster per epoch with bf16 at the same accuracy (79.54 ± 1.16 vs 79.58 ± 0.99 %),
feature extraction 1.56×. So ``bf16`` left unset resolves, in this order:

1. ``fp16: true`` → off;
2. an ``accelerate launch`` (``ACCELERATE_MIXED_PRECISION`` in the environment) → on exactly when it says
   ``bf16``: the launcher's ``--mixed_precision`` decides, as it does for a plain ``Trainer``;
3. a run on an accelerator (CUDA, MPS, XPU) → off: GPU runs choose with ``bf16: true`` or the accelerate config;
4. a CPU run → on when the CPU has native bf16 (AVX512-BF16 or AMX), else off.

``bf16: true`` / ``false`` in a recipe or on the command line always wins. ``metrics.json`` records the outcome
and the rule that chose it (``precision``).
"""

from __future__ import annotations

import os

import torch

LAUNCH_PRECISION_ENV = "ACCELERATE_MIXED_PRECISION"


def has_accelerator() -> bool:
    """A CUDA, MPS or XPU device is usable."""
    if torch.cuda.is_available():
        return True
    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return bool((mps and mps.is_available()) or (xpu and xpu.is_available()))


def cpu_has_native_bf16() -> bool:
    """The CPU computes bf16 in hardware (AVX512-BF16 or AMX), which is what makes CPU autocast pay."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def default_bf16(use_cpu: bool, fp16: bool) -> tuple[bool, str]:
    """Whether an unset ``bf16`` turns on, and why (the rule, in words, for ``metrics.json`` and the log)."""
    if fp16:
        return False, "off: fp16 is set"
    launched = os.environ.get(LAUNCH_PRECISION_ENV)
    if launched:
        return launched == "bf16", f"{'on' if launched == 'bf16' else 'off'}: the launch's mixed_precision is {launched}"
    if not use_cpu and has_accelerator():
        return False, "off: an accelerator run (set bf16: true to use it)"
    if cpu_has_native_bf16():
        return True, "on: this CPU has native bf16 (AVX512-BF16/AMX)"
    return False, "off: this CPU has no native bf16"
