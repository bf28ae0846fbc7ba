"""The MBAP codec (`agent/modbus/mbap.py`) on byte vectors: whole frames, split at every byte, byte by
byte, several in one read, every rejection; then properties (hypothesis, derandomized) and a seeded
mutation fuzz over more than 100,000 frames."""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import DeviceError, ProtocolError
from agent.modbus.mbap import MAX_BITS, MAX_REGISTERS, MbapSession, Reply

HOLDING, INPUT, COILS, DISCRETE = 3, 4, 1, 2


def frame(tid: int, unit: int, pdu: bytes, *, protocol: int = 0, length: int | None = None) -> bytes:
    """An MBAP frame built by hand: header fields as given, length from the PDU unless overridden."""
    size = 1 + len(pdu) if length is None else length
    return struct.pack(">HHHB", tid, protocol, size, unit) + pdu


def registers(function: int, words: list[int]) -> bytes:
    return bytes([function, 2 * len(words)]) + b"".join(w.to_bytes(2, "big") for w in words)


def bits(function: int, values: list[bool]) -> bytes:
    packed = bytearray((len(values) + 7) // 8)
    for i, on in enumerate(values):
        packed[i // 8] |= on << (i % 8)
    return bytes([function, len(packed)]) + bytes(packed)


def session_with(*requests: tuple[int, int, int, int]) -> tuple[MbapSession, list[int]]:
    session = MbapSession()
    return session, [session.request(*r)[0] for r in requests]


def replies(session: MbapSession, chunks: Iterable[bytes]) -> list[Reply]:
    got: list[Reply] = []
    for chunk in chunks:
        session.feed(chunk)
        while (reply := session.next_reply()) is not None:
            got.append(reply)
    return got


def splits(data: bytes) -> Iterator[list[bytes]]:
    """The data whole, cut at every position, and byte by byte."""
    yield [data]
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]
    yield [data[i : i + 1] for i in range(len(data))]


# -- requests ------------------------------------------------------------------------------------


def test_a_request_is_the_twelve_bytes_of_the_spec() -> None:
    session = MbapSession()
    tid, request = session.request(17, HOLDING, 0x006B, 3)
    assert tid == 1
    assert request == bytes.fromhex("0001 0000 0006 11 03 006B 0003")
    assert session.request(1, COILS, 19, 2000)[1] == bytes.fromhex("0002 0000 0006 01 01 0013 07D0")


@pytest.mark.parametrize(
    ("unit", "function", "address", "quantity"),
    [
        (1, 5, 0, 1),  # a write: not a read this codec frames
        (1, HOLDING, 0, 0),
        (1, HOLDING, 0, MAX_REGISTERS + 1),
        (1, COILS, 0, MAX_BITS + 1),
        (256, HOLDING, 0, 1),
        (1, HOLDING, 65535, 2),  # past the last register
        (1, HOLDING, -1, 1),
    ],
)
def test_a_request_no_reply_could_answer_is_refused(
    unit: int, function: int, address: int, quantity: int
) -> None:
    with pytest.raises(ValueError, match="not a Modbus read"):
        MbapSession().request(unit, function, address, quantity)


def test_transaction_ids_wrap_past_zero_and_skip_ids_still_owed_an_answer() -> None:
    session = MbapSession()
    first, _ = session.request(1, HOLDING, 0, 1)  # never answered
    for _ in range(0xFFFE):
        tid, _ = session.request(1, HOLDING, 0, 1)
        session.feed(frame(tid, 1, registers(HOLDING, [0])))
        assert session.next_reply() is not None
    assert tid == 0xFFFF
    assert session.request(1, HOLDING, 0, 1)[0] == 2  # not 0 (never used), not 1 (in flight)
    assert first == 1


# -- whole and split frames ------------------------------------------------------------------------

GOOD = [
    pytest.param((1, HOLDING, 0, 2), registers(HOLDING, [0x1234, 0xABCD]), [0x1234, 0xABCD], id="holding"),
    pytest.param((247, INPUT, 100, 1), registers(INPUT, [7]), [7], id="input-unit-247"),
    pytest.param(
        (1, INPUT, 0, MAX_REGISTERS),
        registers(INPUT, list(range(MAX_REGISTERS))),
        list(range(MAX_REGISTERS)),
        id="125-registers",
    ),
    pytest.param(
        (3, COILS, 0, 10), bits(COILS, [True, False] * 5), [True, False] * 5, id="10-coils-in-2-bytes"
    ),
    pytest.param((0, DISCRETE, 5, 1), bits(DISCRETE, [True]), [True], id="one-discrete-unit-0"),
    pytest.param((1, COILS, 0, MAX_BITS), bits(COILS, [True] * MAX_BITS), [True] * MAX_BITS, id="2000-coils"),
]


@pytest.mark.parametrize(("request_", "pdu", "values"), GOOD)
def test_a_reply_split_anywhere_gives_the_values_once(
    request_: tuple[int, int, int, int], pdu: bytes, values: list[int] | list[bool]
) -> None:
    data = frame(1, request_[0], pdu)
    for chunks in splits(data) if len(data) < 40 else [[data], [data[:7], data[7:9], data[9:]]]:
        session, (tid,) = session_with(request_)
        assert replies(session, chunks) == [(tid, values, 0)], chunks
        assert (session.buffered, session.in_flight) == (0, 0)


def test_the_header_alone_and_a_partial_frame_need_more_bytes() -> None:
    session, (tid,) = session_with((1, HOLDING, 0, 2))
    data = frame(tid, 1, registers(HOLDING, [1, 2]))
    for size in range(len(data)):
        session.feed(data[size : size + 1])
        if size < len(data) - 1:
            assert session.next_reply() is None
            assert session.buffered == size + 1
    assert session.next_reply() == (tid, [1, 2], 0)


def test_an_exception_reply_carries_its_code() -> None:
    for chunks in splits(frame(1, 9, bytes([0x83, 0x02]))):
        session, (tid,) = session_with((9, HOLDING, 0, 4))
        assert replies(session, chunks) == [(tid, None, 2)]


def test_several_replies_in_one_read_come_out_in_order() -> None:
    session, tids = session_with((1, HOLDING, 0, 1), (2, INPUT, 0, 2), (3, COILS, 0, 3))
    data = (
        frame(tids[1], 2, registers(INPUT, [5, 6]))
        + frame(tids[0], 1, registers(HOLDING, [4]))
        + frame(tids[2], 3, bits(COILS, [True, True, False]))
    )
    for chunks in splits(data):
        session, tids = session_with((1, HOLDING, 0, 1), (2, INPUT, 0, 2), (3, COILS, 0, 3))
        assert replies(session, chunks) == [
            (tids[1], [5, 6], 0),
            (tids[0], [4], 0),
            (tids[2], [True, True, False], 0),
        ]


def test_a_late_reply_is_skipped_and_the_next_one_returned() -> None:
    session, (old,) = session_with((1, HOLDING, 0, 2))
    session.expire(old)  # timed out
    new, _ = session.request(1, HOLDING, 0, 2)
    late, fresh = frame(old, 1, registers(HOLDING, [1, 1])), frame(new, 1, registers(HOLDING, [2, 2]))
    assert replies(session, [late + fresh]) == [(new, [2, 2], 0)]
    # Only once: the same transaction id again answers nothing.
    session.request(1, HOLDING, 0, 2)
    with pytest.raises(ProtocolError) as raised:
        replies(session, [late])
    assert raised.value.reason == "transaction_id"


def test_a_session_remembers_a_bounded_number_of_late_transactions() -> None:
    session = MbapSession()
    expired = [session.request(1, HOLDING, 0, 1)[0] for _ in range(200)]
    for tid in expired:
        session.expire(tid)
    session.feed(frame(expired[-1], 1, registers(HOLDING, [0])))
    assert session.next_reply() is None  # skipped, still known
    session.feed(frame(expired[0], 1, registers(HOLDING, [0])))
    with pytest.raises(ProtocolError, match="answers no request"):
        session.next_reply()


# -- rejections ------------------------------------------------------------------------------------

REQUEST = (5, HOLDING, 0, 2)  # answered by transaction 1
OK_PDU = registers(HOLDING, [1, 2])
BAD = [
    pytest.param(frame(1, 5, OK_PDU, protocol=1), "protocol_id", id="protocol-id-1"),
    pytest.param(frame(1, 5, OK_PDU, length=0xFFFF), "length", id="length-0xFFFF"),
    pytest.param(frame(1, 5, OK_PDU, length=255), "length", id="length-255-pdu-254"),
    pytest.param(frame(1, 5, b"\x03", length=2), "length", id="length-2-no-data"),
    pytest.param(frame(1, 5, b"", length=0), "length", id="length-0"),
    pytest.param(frame(2, 5, OK_PDU), "transaction_id", id="transaction-never-sent"),
    pytest.param(frame(0, 5, OK_PDU), "transaction_id", id="transaction-0"),
    pytest.param(frame(1, 6, OK_PDU), "unit_id", id="another-unit"),
    pytest.param(frame(1, 5, registers(INPUT, [1, 2])), "function_code", id="fc4-for-fc3"),
    pytest.param(frame(1, 5, bytes([0x84, 2])), "function_code", id="exception-of-another-fc"),
    pytest.param(frame(1, 5, registers(HOLDING, [1])), "byte_count", id="one-register-of-two"),
    pytest.param(frame(1, 5, registers(HOLDING, [1, 2, 3])), "byte_count", id="three-registers-of-two"),
    pytest.param(frame(1, 5, OK_PDU, length=6), "length", id="length-one-short"),
    pytest.param(frame(1, 5, OK_PDU + b"\x00", length=8), "length", id="length-one-long"),
    pytest.param(frame(1, 5, bytes([0x83, 0])), "exception_code", id="exception-code-0"),
    pytest.param(frame(1, 5, bytes([0x83, 2, 0]), length=4), "length", id="exception-length-4"),
    pytest.param(bytes(range(40)), "protocol_id", id="40-garbage-bytes"),
    pytest.param(b"\xff" * 40, "protocol_id", id="40-bytes-0xff"),
]


@pytest.mark.parametrize(("data", "reason"), BAD)
def test_a_frame_that_fails_a_check_is_a_protocol_error_however_it_is_split(data: bytes, reason: str) -> None:
    for chunks in splits(data):
        session, _ = session_with(REQUEST)
        with pytest.raises(ProtocolError) as raised:
            replies(session, chunks)
        assert raised.value.reason == reason, chunks
        assert isinstance(raised.value, DeviceError)
        # The stream is out of step: the session forgot every byte and request.
        assert (session.buffered, session.in_flight) == (0, 0)


def test_the_error_names_what_was_asked_and_what_came() -> None:
    session, _ = session_with(REQUEST)
    session.feed(frame(1, 6, OK_PDU))
    with pytest.raises(
        ProtocolError, match=r"unit 5 fc3 0\+2, transaction 1: reply from unit 6 .*00 01 00 00"
    ):
        session.next_reply()


def test_a_reply_before_a_bad_frame_in_the_same_read_is_still_returned() -> None:
    session, (tid,) = session_with(REQUEST)
    session.feed(frame(tid, 5, OK_PDU) + b"\x00\x09\x00\x01\x00\x07")
    assert session.next_reply() == (tid, [1, 2], 0)
    with pytest.raises(ProtocolError, match="protocol id 1"):
        session.next_reply()


# -- properties ------------------------------------------------------------------------------------


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[tuple[int, int, int, int], bytes, list[int] | list[bool]]:
    """A read request, a valid reply frame to transaction 1, and the values it carries."""
    unit = draw(st.integers(0, 255))
    function = draw(st.sampled_from([COILS, DISCRETE, HOLDING, INPUT]))
    limit = MAX_BITS if function in (COILS, DISCRETE) else MAX_REGISTERS
    quantity = draw(st.integers(1, limit))
    address = draw(st.integers(0, 0x10000 - quantity))
    values: list[int] | list[bool]
    if function in (COILS, DISCRETE):
        packed = draw(st.binary(min_size=(quantity + 7) // 8, max_size=(quantity + 7) // 8))
        values = [bool(packed[i // 8] >> (i % 8) & 1) for i in range(quantity)]
        pdu = bits(function, values)
    else:
        data = draw(st.binary(min_size=2 * quantity, max_size=2 * quantity))
        values = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
        pdu = registers(function, values)
    return (unit, function, address, quantity), frame(1, unit, pdu), values


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(exchange=exchanges(), cuts=st.lists(st.integers(1, 260), max_size=8))
def test_any_valid_reply_cut_into_any_chunks_gives_its_values(
    exchange: tuple[tuple[int, int, int, int], bytes, list[int] | list[bool]], cuts: list[int]
) -> None:
    request, data, values = exchange
    positions = sorted({c for c in cuts if c < len(data)})
    chunks = [data[a:b] for a, b in zip([0, *positions], [*positions, len(data)], strict=True)]
    session, (tid,) = session_with(request)
    assert replies(session, chunks) == [(tid, values, 0)]


REQUESTS = [(1, HOLDING, 0, 2), (2, INPUT, 10, 3), (1, COILS, 0, 9), (7, DISCRETE, 3, 1)]


def checked_outcome(session: MbapSession, tids: list[int], chunks: list[bytes], stream: bytes) -> tuple:
    """Feed `chunks`; assert each reply really is a valid frame of the stream (checked here, from the
    bytes, independently of the codec); return the replies and the error reason (or None)."""
    asked = dict(zip(tids, REQUESTS, strict=True))
    got: list[Reply] = []
    cursor = 0
    try:
        for chunk in chunks:
            session.feed(chunk)
            while (reply := session.next_reply()) is not None:
                reply_tid, values, exception = reply
                tid, protocol, length, unit, function = struct.unpack_from(">HHHBB", stream, cursor)
                want_unit, want_function, _, quantity = asked.pop(reply_tid)
                assert (tid, protocol, unit) == (reply_tid, 0, want_unit)
                body = stream[cursor + 8 : cursor + 6 + length]
                if values is None:
                    assert function == want_function | 0x80
                    assert body == bytes([exception]) != b"\0"
                else:
                    assert function == want_function
                    assert exception == 0
                    size = (quantity + 7) // 8 if want_function in (COILS, DISCRETE) else 2 * quantity
                    assert body[0] == size == len(body) - 1
                    expected: list[int] | list[bool] = (
                        [bool(body[1 + i // 8] >> (i % 8) & 1) for i in range(quantity)]
                        if want_function in (COILS, DISCRETE)
                        else [int.from_bytes(body[1 + 2 * i : 3 + 2 * i], "big") for i in range(quantity)]
                    )
                    assert values == expected
                cursor += 6 + length
                got.append(reply)
    except ProtocolError as exc:
        return got, exc.reason
    return got, None


@settings(max_examples=1000, deadline=None, database=None, derandomize=True)
@given(stream=st.binary(max_size=120), cut=st.integers(1, 120))
def test_any_bytes_are_replies_that_pass_every_check_or_a_protocol_error(stream: bytes, cut: int) -> None:
    session, tids = session_with(*REQUESTS)
    whole = checked_outcome(session, tids, [stream], stream)
    session, tids = session_with(*REQUESTS)
    assert checked_outcome(session, tids, [stream[:cut], stream[cut:]], stream) == whole


def mutated(rng: random.Random, tids: list[int]) -> tuple[bytes, int]:
    """One stream: valid replies to the session's requests (and a stray exception), then mutated."""
    parts = []
    for tid, (unit, function, _, quantity) in zip(tids, REQUESTS, strict=True):
        if rng.random() < 0.15:
            parts.append(frame(tid, unit, bytes([function | 0x80, rng.choice([1, 2, 4, 11])])))
        elif function in (COILS, DISCRETE):
            parts.append(frame(tid, unit, bits(function, [rng.random() < 0.5 for _ in range(quantity)])))
        else:
            parts.append(
                frame(tid, unit, registers(function, [rng.getrandbits(16) for _ in range(quantity)]))
            )
    rng.shuffle(parts)
    count = rng.randint(1, len(parts))
    data = bytearray(b"".join(parts[:count]))
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        at = rng.randrange(len(data) + 1)
        kind = rng.randrange(7)
        if kind == 0 and data:  # flip bits of a byte
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:  # a byte replaced
            data[min(at, len(data) - 1)] = rng.getrandbits(8)
        elif kind == 2:  # bytes inserted
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif kind == 3:  # bytes lost
            del data[at : at + rng.randint(1, 8)]
        elif kind == 4:  # cut short
            del data[at:]
        elif kind == 5 and len(data) >= 6:  # a header field set to an edge value
            field = rng.choice([0, 2, 4])
            data[field : field + 2] = rng.choice([0, 1, 2, 3, 254, 255, 0xFFFF]).to_bytes(2, "big")
        else:  # garbage
            data[at:at] = rng.randbytes(rng.randint(1, 40))
    return bytes(data), count


MUTATION_FRAMES = 100_000
MUTATION_SEED = 20261206


def test_a_seeded_mutation_fuzz_of_100000_frames_never_breaks_the_codec() -> None:
    """Every outcome is replies that pass every check, then possibly one ProtocolError; never another
    exception; and the same whether the stream came whole or in random chunks (one in four)."""
    rng = random.Random(MUTATION_SEED)
    frames = errors = accepted = 0
    while frames < MUTATION_FRAMES:
        session, tids = session_with(*REQUESTS)
        stream, count = mutated(rng, tids)
        got, reason = checked_outcome(session, tids, [stream], stream)
        if rng.random() < 0.25:
            cuts = (
                sorted(rng.sample(range(1, len(stream)), min(3, len(stream) - 1))) if len(stream) > 1 else []
            )
            chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
            session, tids = session_with(*REQUESTS)
            assert checked_outcome(session, tids, chunks, stream) == (got, reason)
        frames += count
        errors += reason is not None
        accepted += len(got)
    print(f"mbap mutation fuzz, seed {MUTATION_SEED}: {frames} frames", end=", ")
    print(f"{accepted} replies accepted, {errors} streams refused")
    # The mutations reach both outcomes.
    assert errors > 10_000
    assert accepted > 10_000


# -- function 6: one holding register written (agent.control's only write) ----------------------


def test_a_write_is_the_twelve_bytes_of_the_spec_and_its_echo_the_value() -> None:
    session = MbapSession()
    tid, request = session.write_request(7, 12, 0xBEEF)
    assert request == bytes.fromhex("0001 0000 0006 07 06 000c beef".replace(" ", ""))
    for chunks in splits(frame(tid, 7, bytes.fromhex("06000cbeef"))):
        session = MbapSession()
        session.write_request(7, 12, 0xBEEF)
        assert replies(session, chunks) == [(tid, [0xBEEF], 0)]


def test_a_refused_write_is_its_exception_code() -> None:
    session = MbapSession()
    tid, _ = session.write_request(7, 12, 1)
    assert replies(session, [frame(tid, 7, bytes([0x86, 4]))]) == [(tid, None, 4)]


@pytest.mark.parametrize("echo", ["06000d0001", "06000c0002"], ids=["other address", "other value"])
def test_a_write_whose_echo_differs_is_a_protocol_error(echo: str) -> None:
    session = MbapSession()
    tid, _ = session.write_request(7, 12, 1)
    session.feed(frame(tid, 7, bytes.fromhex(echo)))
    with pytest.raises(ProtocolError) as info:
        session.next_reply()
    assert info.value.reason == "echo"


@pytest.mark.parametrize(
    ("unit", "address", "value"), [(256, 0, 0), (1, 0x10000, 0), (1, 0, -1), (1, 0, 70000)]
)
def test_a_write_no_register_could_hold_is_refused(unit: int, address: int, value: int) -> None:
    with pytest.raises(ValueError, match="not a Modbus write"):
        MbapSession().write_request(unit, address, value)
