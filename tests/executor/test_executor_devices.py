"""Device discovery, device leases and the environment each step process gets (no Dagster run needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvops.cpu import TrainingThreads, available_cores, step_cpus, thread_environment
from cvops_assets import gpu_devices
from cvops_assets.executor import GPU_TAG, build_gpu_executor, cuda_visible_devices, gpu_op_tags, is_gpu_step
from cvops_assets.gpu_devices import discover_devices, parse_device_list, parse_nvidia_smi_list, try_lease

NVIDIA_SMI_OUTPUT = """\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0b7a3b5e-1111-2222-3333-444455556666)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-9c8d7e6f-1111-2222-3333-444455556666)
  MIG 3g.40gb     Device  0: (UUID: MIG-aaaaaaaa-1111-2222-3333-444455556666)
  MIG 3g.40gb     Device  1: (UUID: MIG-bbbbbbbb-1111-2222-3333-444455556666)
GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-1a2b3c4d-1111-2222-3333-444455556666)
"""


def test_parse_device_lists() -> None:
    assert parse_device_list("0, 1,,3") == ["0", "1", "3"]
    assert parse_device_list("") == []
    assert parse_device_list("2,-1,3") == ["2"], "CUDA ignores everything from the first invalid index on"
    assert parse_nvidia_smi_list(NVIDIA_SMI_OUTPUT) == [
        "0",
        "MIG-aaaaaaaa-1111-2222-3333-444455556666",
        "MIG-bbbbbbbb-1111-2222-3333-444455556666",
        "2",
    ]


def test_discovery_order(tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{NVIDIA_SMI_OUTPUT}EOF\n")
    fake.chmod(0o755)
    assert discover_devices({"CVOPS_GPU_DEVICES": "0,1", "CUDA_VISIBLE_DEVICES": "3"}, str(fake)).devices == ("0", "1")
    simulated_none = discover_devices({"CVOPS_GPU_DEVICES": ""}, str(fake))
    assert (simulated_none.devices, simulated_none.source) == ((), "$CVOPS_GPU_DEVICES")
    assert discover_devices({"CUDA_VISIBLE_DEVICES": "2,3"}, str(fake)).devices == ("2", "3")
    listed = discover_devices({}, str(fake))
    assert (len(listed.devices), listed.source) == (4, "nvidia-smi -L")
    missing = discover_devices({}, str(tmp_path / "no-such-nvidia-smi"))
    assert (missing.devices, missing.source) == ((), "no nvidia-smi")


def test_a_device_is_leased_once_until_its_holder_closes_it(tmp_path: Path) -> None:
    first = try_lease(["0", "1"], tmp_path)
    second = try_lease(["0", "1"], tmp_path)
    assert first is not None and second is not None
    assert {first.device, second.device} == {"0", "1"}
    assert try_lease(["0", "1"], tmp_path) is None
    first.close()
    again = try_lease(["0", "1"], tmp_path)
    assert again is not None and again.device == first.device
    again.close()
    second.close()


def test_a_lease_passed_to_a_child_lasts_as_long_as_the_child(tmp_path: Path) -> None:
    lease = try_lease(["7"], tmp_path)
    assert lease is not None
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, pass_fds=(lease.fd,)
    )
    lease.close()
    assert try_lease(["7"], tmp_path) is None, "the child's copy of the descriptor must keep the device"
    child.communicate(b"")
    freed = try_lease(["7"], tmp_path)
    assert freed is not None
    freed.close()


def test_the_waiting_launcher_takes_the_first_device_freed(tmp_path: Path) -> None:
    held = try_lease(["0"], tmp_path)
    assert held is not None
    held.note_holder("pid 1, step train")
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-I",
            gpu_devices.__file__,
            f"--lock-dir={tmp_path}",
            "--devices=0",
            "--poll-s=0.05",
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiter.stderr is not None
    assert waiter.stderr.readline() == "cvops: all GPUs busy (0: pid 1, step train); waiting\n"
    held.close()
    out, err = waiter.communicate(timeout=60)
    assert (waiter.returncode, out, err) == (0, "0\n", "cvops: running on GPU 0\n")


def test_step_environment_rules() -> None:
    pool = ["0", "1"]
    assert cuda_visible_devices(True, "1", pool, hide_from_others=True) == "1"
    assert cuda_visible_devices(True, None, [], hide_from_others=True) == "", "no GPU: the step runs on the CPU"
    assert cuda_visible_devices(False, None, pool, hide_from_others=True) == ""
    assert cuda_visible_devices(False, None, pool, hide_from_others=False) is None
    assert cuda_visible_devices(False, None, [], hide_from_others=True) is None
    assert is_gpu_step({GPU_TAG: "true"}) and not is_gpu_step({}) and not is_gpu_step({GPU_TAG: "false"})
    assert gpu_op_tags()[GPU_TAG] == "true"


def test_gpu_steps_are_limited_to_the_pool_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVOPS_GPU_DEVICES", "0,1,2")
    executor = build_gpu_executor({"lock_dir": str(tmp_path), "max_concurrent": 5})
    assert executor._tag_concurrency_limits == [{"key": GPU_TAG, "value": "true", "limit": 3}]
    assert executor._max_concurrent == 5
    assert "GPUs: 0, 1, 2; from $CVOPS_GPU_DEVICES" in executor._step_handler.name

    on_cpu = build_gpu_executor({"devices": [], "lock_dir": str(tmp_path)})
    assert on_cpu._tag_concurrency_limits == []
    assert on_cpu._max_concurrent == available_cores()
    assert on_cpu._step_handler.cpus_per_step == 1, "as many steps as cores: one thread each"
    assert "GPUs: none, GPU steps run on the CPU" in on_cpu._step_handler.name


def test_each_step_gets_its_share_of_the_cores(tmp_path: Path) -> None:
    executor = build_gpu_executor({"devices": [], "lock_dir": str(tmp_path), "cores": 16, "max_concurrent": 3})
    assert executor._step_handler.cpus_per_step == 5, "3 steps x 5 threads fit in 16 cores"
    assert build_gpu_executor({"devices": [], "cores": 2, "max_concurrent": 4})._step_handler.cpus_per_step == 1
    assert thread_environment(5) == {
        "CVOPS_STEP_CPUS": "5",
        "OMP_NUM_THREADS": "5",
        "MKL_NUM_THREADS": "5",
        "OPENBLAS_NUM_THREADS": "5",
    }
    assert step_cpus({"CVOPS_STEP_CPUS": "3"}) == 3
    assert step_cpus({}) == available_cores()
    with pytest.raises(ValueError, match="CVOPS_STEP_CPUS"):
        step_cpus({"CVOPS_STEP_CPUS": "many"})


def test_available_cores_follow_the_cgroup_quota(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # docker --cpus=1.5
    assert available_cores(quota) == 1
    quota.write_text("max 100000\n")
    assert available_cores(quota) == len(os.sched_getaffinity(0))
    assert available_cores(tmp_path / "absent") == len(os.sched_getaffinity(0))


def test_training_splits_its_share_between_threads_and_loaders() -> None:
    assert TrainingThreads.split(1, on_gpu=False) == TrainingThreads(1, 1, 0)
    assert TrainingThreads.split(2, on_gpu=False) == TrainingThreads(2, 2, 0)
    assert TrainingThreads.split(16, on_gpu=False) == TrainingThreads(16, 12, 4)
    assert TrainingThreads.split(4, on_gpu=True) == TrainingThreads(4, 1, 3)
    assert TrainingThreads.split(32, on_gpu=True) == TrainingThreads(32, 24, 8)
    for cpus in range(1, 40):
        for on_gpu in (False, True):
            split = TrainingThreads.split(cpus, on_gpu=on_gpu)
            assert split.torch_threads + split.loader_workers <= max(cpus, 1 + split.loader_workers)
