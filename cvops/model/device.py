"""Where training and inference run, and the settings that go with it.

On CUDA: mixed precision (bfloat16 where supported, else float16 with a gradient scaler) and channels-last
memory format, the two settings that matter most for convolution throughput on tensor cores. On CPU: full
float32 and deterministic algorithms, so a seeded CPU run (CI, a laptop) reproduces exactly.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from cvops.errors import CvopsError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceSettings:
    device: torch.device
    amp_dtype: torch.dtype | None
    """Autocast dtype, ``None`` for full precision."""
    channels_last: bool

    @property
    def needs_grad_scaler(self) -> bool:
        """float16 gradients underflow without loss scaling; bfloat16 has float32's range and needs none."""
        return self.amp_dtype is torch.float16

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def resolve_device(name: str = "auto") -> DeviceSettings:
    """``auto`` picks CUDA when present, else CPU; asking for ``cuda`` without one is an error, not a
    fallback."""
    if name not in DEVICE_CHOICES:
        raise CvopsError(f"unknown device {name!r}: expected one of {DEVICE_CHOICES}")
    use_cuda = name == "cuda" or (name == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise CvopsError("device 'cuda' requested but torch sees no CUDA device")
    return settings_for_device(torch.device("cuda" if use_cuda else "cpu"))


def settings_for_device(device: torch.device) -> DeviceSettings:
    """The settings to run on ``device`` (e.g. the device a loaded model already sits on)."""
    if device.type != "cuda":
        return DeviceSettings(device=device, amp_dtype=None, channels_last=False)
    amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return DeviceSettings(device=device, amp_dtype=amp_dtype, channels_last=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic(settings: DeviceSettings, seed: int) -> Iterator[None]:
    """Seed every RNG; on CPU also force deterministic algorithms for the block (restored afterwards, since
    the switch is process-wide). On CUDA, determinism would cost speed, so only the seeds are set."""
    seed_everything(seed)
    if settings.device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
