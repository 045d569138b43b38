"""Network output shapes and layout invariance."""

from __future__ import annotations

import pytest
import torch

from cvops.model.network import CenterTrackNet, ModelConfig

TINY = ModelConfig(input_size=(64, 32), channels=(8, 16, 16, 16), stem_channels=8, head_channels=8, embedding_dim=16)


@pytest.mark.parametrize(("width", "height"), [(64, 32), (96, 64)])
def test_outputs_are_at_stride_four(width: int, height: int) -> None:
    model = CenterTrackNet(TINY).eval()
    outputs = model(torch.rand(2, 3, height, width))
    assert outputs["heatmap"].shape == (2, 4, height // 4, width // 4)
    assert outputs["box"].shape == (2, 4, height // 4, width // 4)
    assert outputs["embedding_features"].shape == (2, 8, height // 4, width // 4)


def test_embed_equals_a_dense_projection_at_the_cells_asked_for() -> None:
    model = CenterTrackNet(TINY).eval()
    with torch.no_grad():
        features = model(torch.rand(2, 3, 32, 64))["embedding_features"]
        index = torch.tensor([[0, 5, 127], [3, 3, 64]])
        vectors = model.embed(features, index)
        dense = torch.einsum("bchw,dc->bdhw", features, model.embedding_projection.weight)
        dense = dense + model.embedding_projection.bias.view(1, -1, 1, 1)
    assert vectors.shape == (2, 3, 16)
    for row in range(2):
        for slot, cell in enumerate(index[row].tolist()):
            expected = dense[row, :, cell // 16, cell % 16]
            torch.testing.assert_close(vectors[row, slot], expected, atol=1e-5, rtol=1e-4)


def test_heatmap_starts_at_the_centernet_prior() -> None:
    """The bias init makes every cell start at sigmoid(-2.19) ~ 0.1, not 0.5."""
    model = CenterTrackNet(TINY).eval()
    with torch.no_grad():
        heat = torch.sigmoid(model(torch.rand(1, 3, 32, 64))["heatmap"])
    assert 0.02 < float(heat.mean()) < 0.3


def test_channels_last_gives_the_same_outputs() -> None:
    model = CenterTrackNet(TINY).eval()
    images = torch.rand(2, 3, 32, 64)
    expected = model(images)
    model_cl = model.to(memory_format=torch.channels_last)
    actual = model_cl(images.contiguous(memory_format=torch.channels_last))
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], atol=1e-5, rtol=1e-4)


def test_input_size_must_be_a_multiple_of_32() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        ModelConfig(input_size=(100, 64))


def test_config_round_trips_through_a_plain_dict() -> None:
    assert ModelConfig.from_dict(TINY.to_dict()) == TINY
