"""Network faults: transient ones are retried, permanent ones fail at once, and the store never holds a partial
sample."""

from __future__ import annotations

import numpy as np
import pytest

from cvops.video import FrameExtractionError, SampleStore, SourceReadError, extract_frames
from cvops.video.frame_table import FrameTable
from cvops.video.loopback import Fault, LoopbackServer
from tests.video.conftest import image_code


def gop_offset(sample_store: SampleStore, frame: int) -> int:
    """Byte offset of the keyframe of the GOP holding ``frame`` (from the cached frame table)."""
    table = FrameTable.load(next(sample_store.tables.glob("*.parquet")))
    gop = int(table.gops_of_frames(np.array([frame]))[0])
    return int(table.pos[table.gop_start[gop]])


@pytest.fixture
def bframes_url(http_server: LoopbackServer, mp4_videos) -> str:
    return http_server.url(mp4_videos["bframes"].relative)


def warm_table(url: str, sample_store: SampleStore, settings) -> None:
    """Extract frame 1 so the frame table is cached and later faults hit media reads."""
    extract_frames(url, [1], sample_store, settings=settings)


@pytest.mark.parametrize(
    "fault",
    [
        Fault("bframes.mp4", "drop", after_bytes=1000),
        Fault("bframes.mp4", "status", status=503),
        Fault("bframes.mp4", "drop", after_bytes=0, count=2),
    ],
    ids=["dropped-mid-body", "one-503", "two-drops"],
)
def test_transient_faults_during_decoding_are_retried(fault, bframes_url, http_server, sample_store, settings) -> None:
    warm_table(bframes_url, sample_store, settings)
    fault.min_offset, fault.max_offset = gop_offset(sample_store, 200), gop_offset(sample_store, 241)
    http_server.inject(fault)
    result = extract_frames(bframes_url, [200, 210], sample_store, fmt="png", settings=settings)
    assert [image_code(s.path) for s in result.samples] == [200, 210]
    assert fault.count == 0  # the fault really fired
    statuses = [r.status for r in http_server.requests]
    assert (503 in statuses) == (fault.kind == "status")


def test_a_fault_while_fingerprinting_is_retried(bframes_url, http_server, sample_store, settings) -> None:
    http_server.inject(Fault("bframes.mp4", "status", status=502))
    result = extract_frames(bframes_url, [5], sample_store, settings=settings)
    assert image_code(result.samples[0].path) == 5


def test_after_the_last_retry_the_error_names_video_frame_and_cause(bframes_url, http_server, sample_store, settings):
    warm_table(bframes_url, sample_store, settings)
    start, stop = gop_offset(sample_store, 200), gop_offset(sample_store, 241)  # the fourth GOP (frames 181-240)
    http_server.inject(Fault("bframes.mp4", "status", status=503, count=100, min_offset=start, max_offset=stop))
    with pytest.raises(FrameExtractionError) as error:
        extract_frames(bframes_url, [200], sample_store, settings=settings)
    message = str(error.value)
    assert bframes_url in message and "frame(s) 200" in message
    assert "HTTP 503" in message and f"gave up after {settings.retries + 1} attempts" in message


def test_a_failed_extraction_leaves_only_complete_samples(bframes_url, http_server, mp4_videos, sample_store, settings):
    warm_table(bframes_url, sample_store, settings)
    # Frames in the first GOPs succeed, the last GOP keeps failing (but not the fingerprint's read of the tail).
    tail = mp4_videos["bframes"].path.stat().st_size - (64 << 10)
    http_server.inject(
        Fault("bframes.mp4", "drop", count=1000, min_offset=gop_offset(sample_store, 290), max_offset=tail)
    )
    with pytest.raises(FrameExtractionError, match="290"):
        extract_frames(bframes_url, [2, 70, 290], sample_store, fmt="png", settings=settings, max_workers=1)
    files = [p for p in sample_store.root.rglob("*") if p.is_file() and "_tables" not in p.parts]
    assert not [p for p in files if p.name.startswith(".") or p.suffix == ".tmp"], "temporary files left behind"
    assert sorted(image_code(p) for p in files) == [1, 2, 70]  # 1 from warm_table (jpg) - all complete
    # A re-run resumes: it fetches only the missing frame.
    http_server.clear_faults()
    result = extract_frames(bframes_url, [2, 70, 290], sample_store, fmt="png", settings=settings)
    assert [s.cached for s in result.samples] == [True, True, False]


def test_permanent_errors_are_not_retried(http_server, sample_store, settings) -> None:
    with pytest.raises(SourceReadError, match="HTTP 404"):
        extract_frames(http_server.url("missing.mp4"), [1], sample_store, settings=settings)
    assert len(http_server.requests) == 1


def test_a_server_that_ignores_range_is_refused(video_root, mp4_videos, sample_store, settings) -> None:
    with LoopbackServer(video_root, honour_ranges=False) as server:
        with pytest.raises(SourceReadError, match="ignores Range"):
            extract_frames(server.url(mp4_videos["bframes"].relative), [1], sample_store, settings=settings)
        # Refused on the first answer, without reading its body (and without retrying).
        assert len(server.requests) == 1
