"""Transports and the block cache: retry policy, byte accounting, shared blocks."""

from __future__ import annotations

import threading

import pytest

from cvops.video import ReaderSettings, SourceReadError
from cvops.video.http import HttpTransport
from cvops.video.loopback import Fault
from cvops.video.rangefile import BlockReader, RangeFile
from cvops.video.transport import LocalTransport, ObjectInfo, SizeLimit, TransientReadError, Transport


class FlakyTransport(Transport):
    """Fails the first ``failures`` reads with a transient error, counting calls."""

    def __init__(self, settings: ReaderSettings, data: bytes, failures: int, retry_after: float | None = None):
        super().__init__(settings)
        self.data, self.failures, self.calls, self.retry_after = data, failures, 0, retry_after
        self.lock = threading.Lock()

    def _stat(self, uri: str) -> ObjectInfo:
        return ObjectInfo(len(self.data))

    def _read(self, uri: str, start: int, stop: int | None, limit: SizeLimit | None) -> bytes:
        with self.lock:
            self.calls += 1
            if self.failures > 0:
                self.failures -= 1
                raise TransientReadError("connection reset", retry_after=self.retry_after)
        threading.Event().wait(0.01)  # long enough for concurrent readers to overlap
        return self._counted(self.data[start:stop])


def test_transient_errors_are_retried_then_named(tmp_path) -> None:
    settings = ReaderSettings(retries=2, backoff_s=0.001)
    assert FlakyTransport(settings, b"abcdef", failures=2).read("mem://x", 1, 3) == b"bc"
    with pytest.raises(SourceReadError, match=r"cannot read mem://x bytes 1-2: connection reset \(gave up after 3"):
        FlakyTransport(settings, b"abcdef", failures=3).read("mem://x", 1, 3)


def test_backoff_doubles_and_retry_after_is_honoured_up_to_the_cap(monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("cvops.video.transport.time.sleep", waits.append)
    settings = ReaderSettings(retries=3, backoff_s=0.1, max_backoff_s=0.3)
    FlakyTransport(settings, b"abc", failures=3).read("mem://x", 0, 1)
    assert len(waits) == 3 and 0.05 <= waits[0] <= 0.1 and 0.1 <= waits[1] <= 0.2 and waits[2] <= 0.3
    waits.clear()
    FlakyTransport(settings, b"abc", failures=1, retry_after=100).read("mem://x", 0, 1)
    assert waits == [0.3]  # the server asked for 100 s; capped at max_backoff_s


def test_block_reader_shares_and_deduplicates_fetches() -> None:
    data = bytes(range(256)) * 1024  # 256 KiB
    transport = FlakyTransport(ReaderSettings(), data, failures=0)
    blocks = BlockReader(transport, "mem://x", len(data), block_size=64 << 10, cache_bytes=1 << 20)
    results = []

    def read() -> None:
        file = RangeFile(blocks)
        file.seek(70_000)
        results.append(file.read(100_000))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r == data[70_000:170_000] for r in results)
    assert transport.calls == 2  # blocks 1 and 2, each fetched once for eight readers
    assert transport.bytes_read == 2 * (64 << 10)


def test_range_file_behaves_like_a_file(tmp_path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    transport = LocalTransport(ReaderSettings())
    file = RangeFile(BlockReader(transport, str(path), 10, block_size=4096, cache_bytes=8192))
    assert file.read(3) == b"012" and file.tell() == 3
    assert file.seek(-2, 2) == 8 and file.read() == b"89" and file.read() == b""


def test_http_range_reads_and_byte_counts(http_server, mp4_videos) -> None:
    transport = HttpTransport(ReaderSettings())
    url = http_server.url(mp4_videos["bframes"].relative)
    size = transport.stat(url).size
    assert size == mp4_videos["bframes"].path.stat().st_size
    assert transport.read(url, 100, 110) == mp4_videos["bframes"].path.read_bytes()[100:110]
    assert transport.bytes_read == 11 and transport.requests == 2
    assert http_server.requests[-1].range == "bytes=100-109"


def test_http_dropped_body_is_retried(http_server, mp4_videos) -> None:
    http_server.inject(Fault("bframes.mp4", "drop", after_bytes=10))
    transport = HttpTransport(ReaderSettings(backoff_s=0.001))
    url = http_server.url(mp4_videos["bframes"].relative)
    assert transport.read(url, 0, 5000) == mp4_videos["bframes"].path.read_bytes()[:5000]
    assert transport.requests == 1  # failed attempts are not counted as completed requests
    assert len(http_server.requests) == 2
