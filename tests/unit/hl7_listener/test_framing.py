"""MllpDecoder: MLLP release 1 frames out of a byte stream cut anywhere."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hl7_listener.framing import END, HEAD_BYTES, START, Frame, MllpDecoder, Oversized, frame

MSG = b"MSH|^~\\&|LAB|HOSP|CDR|GW|20261124090000||ADT^A01^ADT_A01|123|P|2.5\rPID|1||X\r"


def feed_all(decoder: MllpDecoder, *chunks: bytes) -> list[Frame | Oversized]:
    items: list[Frame | Oversized] = []
    for chunk in chunks:
        items.extend(decoder.feed(chunk))
    return items


def test_frame_wraps_the_payload_in_sb_and_eb_cr():
    assert frame(b"abc") == b"\x0babc\x1c\x0d"
    assert START == b"\x0b" and END == b"\x1c\r"


def test_a_whole_frame_in_one_read():
    decoder = MllpDecoder(1000)
    assert decoder.feed(frame(MSG)) == [Frame(MSG)]
    assert decoder.skipped_bytes == 0
    assert not decoder.in_frame


def test_a_frame_split_byte_by_byte_comes_out_once_at_its_end():
    decoder = MllpDecoder(1000)
    data = frame(MSG)
    results = [decoder.feed(data[i : i + 1]) for i in range(len(data))]
    assert all(r == [] for r in results[:-2])  # EB delivers it; the CR after it is consumed
    assert [item for r in results for item in r] == [Frame(MSG)]
    assert decoder.skipped_bytes == 0


def test_three_frames_in_one_read_come_out_in_order():
    decoder = MllpDecoder(1000)
    data = frame(b"one") + frame(b"two") + frame(b"three")
    assert decoder.feed(data) == [Frame(b"one"), Frame(b"two"), Frame(b"three")]


def test_frames_cut_across_reads_at_every_boundary():
    decoder = MllpDecoder(1000)
    data = frame(b"one") + frame(b"two")
    for cut in range(len(data) + 1):
        decoder = MllpDecoder(1000)
        assert feed_all(decoder, data[:cut], data[cut:]) == [Frame(b"one"), Frame(b"two")]
        assert decoder.skipped_bytes == 0, cut


def test_junk_outside_frames_is_skipped_and_counted():
    decoder = MllpDecoder(1000)
    items = feed_all(decoder, b"\r\nhello", frame(b"a") + b"xx", b"\n" + frame(b"b") + b"tail")
    assert items == [Frame(b"a"), Frame(b"b")]
    assert decoder.skipped_bytes == len(b"\r\nhello") + 2 + 1 + 4


def test_a_start_inside_a_frame_restarts_it_and_counts_the_abandoned_bytes():
    decoder = MllpDecoder(1000)
    items = feed_all(decoder, START + b"partial", START + b"whole" + END)
    assert items == [Frame(b"whole")]
    assert decoder.skipped_bytes == 1 + len(b"partial")


def test_a_start_inside_a_frame_in_the_same_read():
    decoder = MllpDecoder(1000)
    assert decoder.feed(START + b"abc" + START + b"def" + END) == [Frame(b"def")]
    assert decoder.skipped_bytes == 4


def test_the_cr_after_eb_in_the_next_read_is_not_junk():
    decoder = MllpDecoder(1000)
    assert decoder.feed(START + b"a\x1c") == [Frame(b"a")]
    assert decoder.feed(b"\r" + frame(b"b")) == [Frame(b"b")]
    assert decoder.skipped_bytes == 0


def test_a_missing_cr_after_eb_is_tolerated():
    decoder = MllpDecoder(1000)
    assert decoder.feed(START + b"a\x1c" + START + b"b\x1c") == [Frame(b"a"), Frame(b"b")]
    assert decoder.skipped_bytes == 0


def test_an_empty_frame_is_a_frame():
    assert MllpDecoder(10).feed(frame(b"")) == [Frame(b"")]


def test_a_message_of_exactly_the_limit_is_accepted():
    payload = b"x" * 100
    assert MllpDecoder(100).feed(frame(payload)) == [Frame(payload)]
    assert MllpDecoder(99).feed(frame(payload)) == [Oversized(payload[:HEAD_BYTES])]


def test_an_oversized_message_gives_its_head_and_is_not_buffered():
    decoder = MllpDecoder(5000)
    payload = MSG + b"Z" * 20_000
    data = frame(payload)
    items: list[Frame | Oversized] = []
    for i in range(0, len(data), 700):
        items.extend(decoder.feed(data[i : i + 700]))
        assert decoder.buffered_bytes <= 5000
    assert items == [Oversized(payload[:HEAD_BYTES])]
    assert len(items[0].head) == HEAD_BYTES  # type: ignore[union-attr]
    assert decoder.buffered_bytes == 0
    # the stream goes on normally afterwards
    assert decoder.feed(frame(b"next")) == [Frame(b"next")]
    assert decoder.skipped_bytes == 0


def test_an_oversized_message_arriving_byte_by_byte_keeps_the_head():
    decoder = MllpDecoder(50)
    payload = bytes(range(32, 127)) * 30
    data = frame(payload)
    items = feed_all(decoder, *(data[i : i + 1] for i in range(len(data))))
    assert items == [Oversized(payload[:HEAD_BYTES])]


def test_a_small_oversized_message_keeps_all_of_it_as_head():
    assert MllpDecoder(10).feed(frame(b"a" * 11)) == [Oversized(b"a" * 11)]


def test_a_start_inside_an_oversized_frame_abandons_it():
    decoder = MllpDecoder(10)
    items = feed_all(decoder, START + b"y" * 30, START + b"ok" + END)
    assert items == [Frame(b"ok")]
    assert decoder.skipped_bytes == 31


payloads = st.lists(
    st.binary(max_size=60).map(lambda b: bytes(c for c in b if c not in (0x0B, 0x1C))),
    max_size=6,
)
junk = st.binary(max_size=8).map(lambda b: bytes(c for c in b if c != 0x0B))


@given(payloads, st.lists(junk, min_size=7, max_size=7), st.lists(st.integers(1, 40), max_size=30))
def test_any_cutting_of_any_stream_gives_the_same_frames(messages, junks, cuts):
    stream = b"".join(j + frame(m) for j, m in zip(junks, messages, strict=False))
    chunks, pos = [], 0
    for size in cuts:
        chunks.append(stream[pos : pos + size])
        pos += size
    chunks.append(stream[pos:])
    decoder = MllpDecoder(1000)
    assert feed_all(decoder, *chunks) == [Frame(m) for m in messages]
