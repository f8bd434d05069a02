"""ingest.mqtt.frame: where an MQTT packet in the receive buffer begins and ends, from its remaining length.

The remaining length is a variable-length integer (MQTT 3.1.1, 2.2.3): seven bits a byte, least significant
first, the high bit saying another byte follows, at most four bytes (268,435,455). Each width is checked at both
of its edges, a packet cut anywhere must wait for more bytes, and a fifth length byte is a protocol error.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.mqtt import frame

#: (remaining length, how many bytes encode it): the edges of each width.
EDGES = [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (2_097_151, 3), (2_097_152, 4), (268_435_455, 4)]
BIGGEST_BODY_BUILT = 2_097_152  # bodies above this are not allocated; their header is checked on its own


def remaining_length(value: int) -> bytes:
    """The encoding, written here from the specification rather than taken from paho or ingest."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def packet(command: int, body: bytes) -> bytes:
    return bytes([command]) + remaining_length(len(body)) + body


@pytest.mark.parametrize(("length", "width"), EDGES)
def test_each_width_of_the_remaining_length_at_its_edges(length: int, width: int) -> None:
    header = bytes([0x32]) + remaining_length(length)
    assert len(header) == 1 + width
    if length > BIGGEST_BODY_BUILT:
        assert frame(header + b"\0" * 16, 0) is None  # complete header, body still to come
        return
    body = bytes(i % 251 for i in range(length))
    assert frame(header + body, 0) == (0x32, 1 + width, 1 + width + length)
    if length:
        assert frame(header + body[:-1], 0) is None


def test_a_packet_cut_anywhere_waits_for_the_rest() -> None:
    whole = packet(0x30, b"\x00\x03t/a" + b"x" * 200)
    for cut in range(len(whole)):
        assert frame(whole[:cut], 0) is None, cut
    assert frame(whole, 0) == (0x30, 3, len(whole))


def test_packets_back_to_back_are_framed_from_pos() -> None:
    first, second = packet(0x32, b"a" * 130), packet(0xD0, b"")
    buffer = b"junk" + first + second
    command, start, end = frame(buffer, 4)
    assert (command, buffer[start:end]) == (0x32, b"a" * 130)
    assert frame(buffer, end) == (0xD0, end + 2, end + 2)
    assert frame(buffer, len(buffer)) is None


def test_a_fifth_length_byte_is_a_protocol_error() -> None:
    with pytest.raises(ValueError, match="malformed remaining length"):
        frame(b"\x30\xff\xff\xff\xff\x01", 0)


def test_four_continuation_bytes_without_the_fifth_are_refused_as_well() -> None:
    with pytest.raises(ValueError, match="malformed remaining length"):
        frame(b"\x30\xff\xff\xff\xff", 0)


@given(st.binary(max_size=20_000), st.integers(0, 255), st.binary(max_size=8))
def test_any_body_is_framed_exactly(body: bytes, command: int, before: bytes) -> None:
    buffer = before + packet(command, body) + b"\x30"  # a next packet's first byte after it
    found = frame(buffer, len(before))
    assert found is not None
    assert found[0] == command
    assert buffer[found[1]:found[2]] == body
