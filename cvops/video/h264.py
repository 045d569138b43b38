"""Which H.264 packets no other picture needs (``nal_ref_idc == 0``), so a seek can skip decoding them.

Decoding from a keyframe up to a wanted frame decodes every picture in between, but a picture whose slices all
have ``nal_ref_idc == 0`` is never used as a reference: unless it is itself wanted, it can be dropped before the
decoder. With x264's usual B-pyramid about half the pictures of a GOP are such B-frames. FFmpeg's demuxers do not
flag them (``AV_PKT_FLAG_DISPOSABLE`` stays unset for H.264), so the NAL headers are read here: length-prefixed
NAL units in MP4 (``avcC``), start codes in MPEG-TS (Annex B).
"""

from __future__ import annotations

_SLICE_TYPES = frozenset({1, 2, 3, 4, 5})  # coded slices (5 = IDR)
_PARAMETER_SETS = frozenset({7, 8})  # SPS, PPS: a packet carrying them is never dropped


def nal_length_size(extradata: bytes | None) -> int | None:
    """The NAL length prefix size of an ``avcC`` record, or None for Annex B (no or non-avcC extradata)."""
    if extradata and len(extradata) >= 5 and extradata[0] == 1:
        return (extradata[4] & 0x03) + 1
    return None


def is_disposable(data: bytes, length_size: int | None) -> bool:
    """True when the packet is a picture that no other picture references (safe to skip if not wanted)."""
    headers = _nal_headers_prefixed(data, length_size) if length_size else _nal_headers_annex_b(data)
    has_slice = False
    for header in headers:
        kind = header & 0x1F
        if kind in _PARAMETER_SETS:
            return False
        if kind in _SLICE_TYPES:
            if header & 0x60:  # nal_ref_idc != 0
                return False
            has_slice = True
    return has_slice


def _nal_headers_prefixed(data: bytes, length_size: int) -> list[int]:
    headers, position = [], 0
    while position + length_size < len(data):
        length = int.from_bytes(data[position : position + length_size], "big")
        if length == 0 or position + length_size + length > len(data):
            return [0x60 | 1]  # malformed: report a reference slice, so the packet is decoded
        headers.append(data[position + length_size])
        position += length_size + length
    return headers


def _nal_headers_annex_b(data: bytes) -> list[int]:
    headers, position = [], data.find(b"\x00\x00\x01")
    while 0 <= position < len(data) - 3:
        headers.append(data[position + 3])
        position = data.find(b"\x00\x00\x01", position + 3)
    return headers
