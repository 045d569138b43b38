"""A remote object as a seekable file for PyAV: aligned blocks fetched on demand, shared by a video's workers.

PyAV (FFmpeg's mp4 demuxer) reads small pieces and seeks often; turning each read into an HTTP request would be
slow, and letting FFmpeg fetch by itself would hide the bytes, the retries and the origin checks. So reads go
through fixed-size aligned blocks: a seek costs at most one block it does not need, the ``moov`` index fetched by
the first worker is reused by the others, and two workers asking for the same block wait for one fetch.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from cvops.video.transport import Transport


class BlockReader:
    """Blocks of one object with an LRU of at most ``cache_bytes``. Thread-safe."""

    def __init__(self, transport: Transport, uri: str, size: int, *, block_size: int, cache_bytes: int) -> None:
        self.transport = transport
        self.uri = uri
        self.size = size
        self.block_size = block_size
        self._max_blocks = max(2, cache_bytes // block_size)
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._in_flight: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._blocks.clear()

    def pread(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the object)."""
        end = min(offset + length, self.size)
        parts = []
        position = offset
        while position < end:
            index, skip = divmod(position, self.block_size)
            block = self._block(index)
            piece = block[skip : skip + (end - position)]
            if not piece:
                break
            parts.append(piece)
            position += len(piece)
        return b"".join(parts)

    def _block(self, index: int) -> bytes:
        while True:
            with self._lock:
                block = self._blocks.get(index)
                if block is not None:
                    self._blocks.move_to_end(index)
                    return block
                event = self._in_flight.get(index)
                owner = event is None
                if owner:
                    event = self._in_flight[index] = threading.Event()
            if not owner:
                event.wait()
                continue  # the owner stored the block, or failed and we fetch it ourselves
            try:
                start = index * self.block_size
                block = self.transport.read(self.uri, start, min(start + self.block_size, self.size))
                with self._lock:
                    self._blocks[index] = block
                    while len(self._blocks) > self._max_blocks:
                        self._blocks.popitem(last=False)
                return block
            finally:
                with self._lock:
                    self._in_flight.pop(index, None)
                event.set()


class RangeFile(io.RawIOBase):
    """A read-only file over a :class:`BlockReader`; one per open container (it holds the position)."""

    def __init__(self, blocks: BlockReader) -> None:
        super().__init__()
        self._blocks = blocks
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._blocks.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._blocks.pread(self._position, len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
