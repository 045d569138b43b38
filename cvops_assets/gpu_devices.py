"""GPU devices for step processes: which devices exist, and who holds which (standard library only).

A step that needs a GPU holds a *lease*: an exclusive ``flock`` on ``<lock_dir>/gpu-<device>.lock``, taken by the
run worker and handed to the step process as an inherited file descriptor. The kernel releases it when the last
process holding the descriptor exits, so a device is free again exactly when its step process is gone (even one
killed with SIGKILL), and two runs on one host never share a device. Dagster's per-run tag concurrency limit
keeps one run from launching more GPU steps than devices; the lease is what makes the assignment exclusive.

When every device is held (another run's step, or a step of this run still exiting), the step process is started
through this file run as a script: it waits for a lease, sets ``CUDA_VISIBLE_DEVICES`` and ``exec``s the step
command, so the waiting never blocks the executor's event loop. Being a plain script with no third-party imports
keeps that start-up cheap.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEVICES_ENV = "CVOPS_GPU_DEVICES"
"""Comma-separated devices the executor may hand out (``""`` for none); overrides discovery (tests, shared hosts)."""
LOCK_DIR_ENV = "CVOPS_GPU_LOCK_DIR"
CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"

_GPU_LINE = re.compile(r"^GPU (\d+):")
_MIG_LINE = re.compile(r"^\s+MIG .*\(UUID: (MIG-[^)\s]+)\)")


def parse_device_list(text: str) -> list[str]:
    """Devices named by a ``CUDA_VISIBLE_DEVICES``-style list; like CUDA, stop at the first negative index."""
    devices = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.startswith("-"):
            break
        devices.append(item)
    return devices


def parse_nvidia_smi_list(text: str) -> list[str]:
    """Devices in ``nvidia-smi -L`` output: a GPU's index, or the UUIDs of its MIG instances when it is split
    (a MIG instance can only be selected by UUID)."""
    devices: list[str] = []
    current_gpu: str | None = None
    current_migs: list[str] = []
    for line in text.splitlines():
        if gpu := _GPU_LINE.match(line):
            if current_gpu is not None:
                devices += current_migs or [current_gpu]
            current_gpu, current_migs = gpu.group(1), []
        elif (mig := _MIG_LINE.match(line)) and current_gpu is not None:
            current_migs.append(mig.group(1))
    if current_gpu is not None:
        devices += current_migs or [current_gpu]
    return devices


@dataclass(frozen=True)
class DevicePool:
    devices: tuple[str, ...]
    source: str
    """Where the list came from, for the run's log."""


def discover_devices(environ: Mapping[str, str] | None = None, nvidia_smi: str = "nvidia-smi") -> DevicePool:
    """The GPUs steps may use: ``$CVOPS_GPU_DEVICES``, else ``$CUDA_VISIBLE_DEVICES``, else ``nvidia-smi -L``.

    torch is deliberately not asked: importing it costs seconds in every run worker, and a host where torch sees
    a GPU has nvidia-smi.
    """
    env = os.environ if environ is None else environ
    for name in (DEVICES_ENV, CUDA_VISIBLE_DEVICES):
        if name in env:
            return DevicePool(tuple(parse_device_list(env[name])), f"${name}")
    try:
        listed = subprocess.run([nvidia_smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return DevicePool((), "no nvidia-smi")
    if listed.returncode != 0:
        return DevicePool((), f"nvidia-smi -L failed ({listed.stderr.strip()[:200] or listed.returncode})")
    return DevicePool(tuple(parse_nvidia_smi_list(listed.stdout)), "nvidia-smi -L")


def default_lock_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$CVOPS_GPU_LOCK_DIR``, else one folder per user in the system temp folder: devices belong to the host,
    not to a CVOPS_HOME, so every run of the user on this host must see the same locks."""
    env = os.environ if environ is None else environ
    if env.get(LOCK_DIR_ENV):
        return Path(env[LOCK_DIR_ENV])
    return Path(tempfile.gettempdir()) / f"cvops-gpu-locks-{os.getuid()}"


def _lock_file(lock_dir: Path, device: str) -> Path:
    return lock_dir / f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', device)}.lock"


@dataclass
class DeviceLease:
    """An exclusive hold on one device, as an open file descriptor carrying a ``flock``."""

    device: str
    fd: int

    def note_holder(self, text: str) -> None:
        """Write who holds the device into the lock file, for the message of a step that has to wait."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)

    def close(self) -> None:
        """Close this process's descriptor; the lease ends once no process holds a copy."""
        os.close(self.fd)


def try_lease(devices: Sequence[str], lock_dir: Path) -> DeviceLease | None:
    """A lease on the first free device, or ``None`` if every one is held."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for device in devices:
        fd = os.open(_lock_file(lock_dir, device), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                continue
            raise
        return DeviceLease(device, fd)
    return None


def holders(devices: Sequence[str], lock_dir: Path) -> str:
    """What the lock files say about who holds the devices (best effort, for messages)."""
    notes = []
    for device in devices:
        try:
            note = _lock_file(lock_dir, device).read_text().strip()
        except OSError:
            note = ""
        notes.append(f"{device}: {note or 'holder unknown'}")
    return "; ".join(notes)


def wait_and_exec(devices: Sequence[str], lock_dir: Path, command: Sequence[str], poll_s: float) -> None:
    """Wait for a free device, then become ``command`` with ``CUDA_VISIBLE_DEVICES`` set to it."""
    lease = try_lease(devices, lock_dir)
    if lease is None:
        print(f"cvops: all GPUs busy ({holders(devices, lock_dir)}); waiting", file=sys.stderr, flush=True)
        while lease is None:
            time.sleep(poll_s)
            lease = try_lease(devices, lock_dir)
    lease.note_holder(f"pid {os.getpid()}: {' '.join(command[:4])}")
    print(f"cvops: running on GPU {lease.device}", file=sys.stderr, flush=True)
    os.set_inheritable(lease.fd, True)
    os.environ[CUDA_VISIBLE_DEVICES] = lease.device
    os.execvp(command[0], list(command))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run COMMAND on the first GPU of DEVICES that is free.")
    parser.add_argument("--lock-dir", type=Path, required=True)
    parser.add_argument("--devices", required=True, help="comma-separated")
    parser.add_argument("--poll-s", type=float, default=0.5)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    devices = parse_device_list(args.devices)
    if not command or not devices:
        parser.error("give --devices and a command after --")
    wait_and_exec(devices, args.lock_dir, command, args.poll_s)


if __name__ == "__main__":
    main()
