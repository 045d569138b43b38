"""Short training runs on a tiny toy dataset: the loss falls, seeded CPU runs repeat, budgets stop, checkpoints
round-trip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cvops.errors import CvopsError, InputError
from cvops.model.checkpoint import load_checkpoint
from cvops.model.data import AugmentConfig
from cvops.model.device import resolve_device
from cvops.model.toy_data import write_toy_dataset
from cvops.model.train import CosineSchedule, TrainConfig, train

TINY = TrainConfig(
    epochs=6,
    batch_size=4,
    input_size=(160, 96),
    lr=3e-3,
    channels=(16, 24, 32, 32),
    head_channels=16,
    embedding_dim=16,
    augment=AugmentConfig(scale_range=(0.9, 1.1)),
    log_every_steps=0,
    num_threads=1,  # the test machine is shared: one thread is faster than two oversubscribed ones
)


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "ds", frames_per_match=8, n_players=4)


@pytest.fixture(scope="module")
def trained(toy_root: Path):
    lines: list[str] = []
    result = train(toy_root, TINY, log=lines.append)
    return result, lines


def test_training_lowers_the_loss(trained) -> None:
    result, lines = trained
    history = result.loss_history
    assert len(history) == TINY.epochs == result.epochs_completed
    assert history[-1]["heatmap"] < 0.7 * history[0]["heatmap"]
    assert history[-1]["size"] < history[0]["size"]
    assert history[-1]["identity"] < history[0]["identity"]
    assert result.images_seen == TINY.epochs * 4 * (16 // 4)
    assert result.device == "cpu" and not result.stopped_by_time_budget
    assert any(line.startswith("epoch 6 done") for line in lines)


def test_training_evaluates_on_val(trained) -> None:
    metrics = trained[0].val_metrics
    assert metrics["n_images"] == 8
    assert set(metrics["ap50"]) == {"player", "goalkeeper", "referee", "ball"}
    assert all(0.0 <= value <= 1.0 for value in metrics["ap50"].values())
    assert metrics["player_ap50"] == metrics["ap50"]["player"]


def test_seeded_cpu_training_repeats_exactly(toy_root: Path, trained) -> None:
    config = replace(TINY, epochs=2, evaluate_split=None)
    first = train(toy_root, config, log=lambda _: None)
    second = train(toy_root, config, log=lambda _: None)
    assert first.loss_history[-1]["total"] == second.loss_history[-1]["total"]
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_time_limit_is_a_safety_net_that_stops_training(toy_root: Path) -> None:
    config = replace(TINY, epochs=50, max_minutes=0.0005, evaluate_split=None)  # 30 ms
    result = train(toy_root, config, log=lambda _: None)
    assert result.stopped_by_time_budget
    assert result.epochs_completed < 50


def test_schedule_spans_the_steps_only() -> None:
    schedule = CosineSchedule(base_lr=1.0, warmup_steps=10, total_steps=1000, min_fraction=0.0)
    assert schedule.lr(0) == pytest.approx(0.1)
    assert schedule.lr(10) == pytest.approx(1.0, abs=1e-3)
    assert schedule.lr(500) == pytest.approx(0.5)  # half the steps: half-way down the cosine
    assert schedule.lr(1000) == pytest.approx(0.0)


def test_threads_come_from_the_steps_cpu_share(toy_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVOPS_STEP_CPUS", "1")
    config = replace(TINY, epochs=1, num_threads=None, evaluate_split=None)
    result = train(toy_root, config, log=lambda _: None)
    assert (result.threads.cpus, result.threads.torch_threads, result.threads.loader_workers) == (1, 1, 0)
    assert result.metrics()["torch_threads"] == 1


def test_checkpoint_round_trips(trained, tmp_path: Path) -> None:
    result, _ = trained
    path = result.save(tmp_path / "model.pt")
    loaded = load_checkpoint(path)
    assert loaded.identity_map == result.identity_map
    assert loaded.class_names == ("player", "goalkeeper", "referee", "ball")
    assert loaded.train_config["input_size"] == [160, 96]
    assert loaded.metrics["val"]["n_images"] == 8
    images = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        expected, actual = result.model.eval()(images), loaded.model(images)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name])


def test_foreign_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, path)
    with pytest.raises(InputError, match="checkpoint"):
        load_checkpoint(path)


def test_dataset_without_train_samples_is_an_input_error(tmp_path: Path) -> None:
    root = write_toy_dataset(tmp_path / "ds", train_matches=0, val_matches=1, frames_per_match=1, n_players=1)
    with pytest.raises(InputError, match="no train samples"):
        train(root, TINY, log=lambda _: None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_asking_for_cuda_without_a_gpu_fails_clearly() -> None:
    with pytest.raises(CvopsError, match="no CUDA device"):
        resolve_device("cuda")
    assert resolve_device("auto").device.type == "cpu"
