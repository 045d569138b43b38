"""The Dagster resource: settings pass through, and an asset extracts through the extractor it returns."""

# No `from __future__ import annotations`: Dagster reads the asset's parameter annotations at definition time.
import dagster as dg

from cvops.video import ExtractionResult
from cvops.video.extract import progress_reporter
from cvops_resources.video import VideoResource
from tests.video.conftest import image_code


def test_settings_pass_through() -> None:
    resource = VideoResource(retries=1, timeout_s=3, block_size=8192, max_workers=2)
    extractor = resource.get_extractor()
    settings = extractor.settings
    assert (settings.retries, settings.timeout_s, settings.block_size) == (1, 3, 8192)
    assert settings.s3_client_factory is not None
    assert extractor.max_workers == 2


def test_an_asset_extracts_with_one_call(mp4_videos, video_root, tmp_path) -> None:
    video = mp4_videos["start"]
    seen: dict[str, ExtractionResult] = {}

    @dg.asset
    def samples(context: dg.AssetExecutionContext, video_reader: VideoResource) -> None:
        progress = progress_reporter(context.log.info, label=video.relative)
        extractor = video_reader.get_extractor()
        seen["result"] = extractor.extract(video.relative, [1, 60, 120], base_dir=video_root, progress=progress)

    resource = VideoResource(samples_dir=str(tmp_path / "samples"), jpeg_quality=75, max_workers=2)
    outcome = dg.materialize([samples], resources={"video_reader": resource})
    assert outcome.success
    result = seen["result"]
    assert [image_code(s.path) for s in result.samples] == [1, 60, 120]
    assert all(s.path.suffix == ".jpg" for s in result.samples)


def test_progress_is_reported_at_most_every_interval_and_at_the_end() -> None:
    lines: list[str] = []
    progress = progress_reporter(lines.append, label="m1.mp4", interval_s=3600)
    for done in range(1, 6):
        progress(done, 5)
    assert lines == ["m1.mp4: 1/5 frames", "m1.mp4: 5/5 frames"]
