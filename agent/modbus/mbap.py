"""Modbus TCP framing (MBAP): read requests to bytes, a byte stream to checked replies.

Pure, in the manner of pymodbus's framers: no asyncio, no socket, no pymodbus. `agent/modbus/io.py`
moves the bytes; this module decides what they mean. "Need more bytes" is a return value (None).

    request    [tid:2][protocol 0:2][length 6:2][unit:1][function:1][address:2][quantity:2]
    reply      [tid:2][protocol 0:2][length 3+n:2][unit:1][function:1][byte count n:1][data:n]
    exception  [tid:2][protocol 0:2][length 3:2][unit:1][function|0x80:1][exception code:1]
    write (6)  [tid:2][protocol 0:2][length 6:2][unit:1][6:1][address:2][value:2], the reply its echo

An `MbapSession` is one connection's side of the conversation. It numbers the requests (1..65535,
never one still in flight), splits the incoming stream into frames (whole, split anywhere, several in
one read) and checks each frame against the request it answers, each check as soon as its bytes are
in, in byte order (so a frame fails with the same reason however the stream was split):

- protocol id 0, and an MBAP length of 3..254 (a reply PDU holds a function code and at least one
  byte, at most 253): a length of 0xFFFF is refused at once, not waited for;
- a transaction id in flight. A reply to a request that timed out or was given up (`expire`) is
  checked the same way and then skipped: a late answer is never taken for a later request;
- the unit id and the function code of that request, or its exception form (function | 0x80) with a
  non-zero exception code;
- a write's reply (function 6) echoes its address and value;
- a byte count of exactly what the quantity needs (2 per register, 1 per 8 bits rounded up), and an
  MBAP length of exactly that frame.

Any failure raises `ProtocolError` with a reason. The stream is then out of step, or was never
Modbus: the session forgets everything (buffered bytes, requests in flight) and the caller must drop
the connection. A session is only reused on a new connection (`reset`).
"""

from __future__ import annotations

import struct

from agent.errors import ProtocolError

__all__ = [
    "MAX_BITS",
    "MAX_LENGTH",
    "MAX_REGISTERS",
    "MIN_LENGTH",
    "WRITE_REGISTER",
    "MbapSession",
    "Reply",
]

MIN_LENGTH = 3  # MBAP length of the shortest reply: unit id, function code, one byte
MAX_LENGTH = 254  # unit id + the longest PDU (253 bytes)
MAX_REGISTERS = 125  # registers one read may ask for (250 data bytes)
MAX_BITS = 2000  # coils or discrete inputs one read may ask for (250 data bytes)
BIT_FUNCTIONS = frozenset({1, 2})
# Timed-out transaction ids whose late answer is still recognised (and skipped) on a connection.
LATE_KEPT = 64

_REQUEST = struct.Struct(">HHHBBHH")
_ECHO = struct.Struct(">HH")  # a write's echo: address, value
WRITE_REGISTER = 6
_HEADER = struct.Struct(">HHH")  # transaction id, protocol id, length
_LIMITS = {1: MAX_BITS, 2: MAX_BITS, 3: MAX_REGISTERS, 4: MAX_REGISTERS}  # quantity per function
_WORDS: dict[int, struct.Struct] = {}  # quantity -> ">{quantity}H", compiled once per block size

# A reply: (transaction id, the values asked for or None, the device's exception code or 0).
# Plain tuples: a NamedTuple cost more per request than every check of the frame together.
Reply = tuple[int, list[int] | list[bool] | None, int]
# A request in flight: unit id, function code, reply data bytes, address, quantity.
_Request = tuple[int, int, int, int, int]


class MbapSession:
    """One Modbus TCP connection's requests and received bytes (see the module docstring)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._in_flight: dict[int, _Request] = {}
        self._late: dict[int, _Request] = {}
        self._last_tid = 0

    @property
    def buffered(self) -> int:
        """Bytes received that are not yet a whole frame (non-zero: a frame is part-way in)."""
        return len(self._buffer)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def request(self, unit: int, function: int, address: int, quantity: int) -> tuple[int, bytes]:
        """A new transaction id and the request frame to send for it."""
        limit = _LIMITS.get(function, 0)
        if not (
            0 <= unit <= 255 and address >= 0 and 1 <= quantity <= limit and address + quantity <= 0x10000
        ):
            raise ValueError(f"not a Modbus read: unit {unit} fc{function} {address}+{quantity}")
        tid = self._last_tid % 0xFFFF + 1
        in_flight = self._in_flight
        if tid in in_flight or tid in self._late:
            tid = self._free_tid(tid)
        self._last_tid = tid
        data_bytes = (quantity + 7) >> 3 if function <= 2 else 2 * quantity  # bits packed 8 a byte
        in_flight[tid] = (unit, function, data_bytes, address, quantity)
        return tid, _REQUEST.pack(tid, 0, 6, unit, function, address, quantity)

    def write_request(self, unit: int, address: int, value: int) -> tuple[int, bytes]:
        """A new transaction id and the frame writing `value` to one holding register (function 6);
        its reply is the request's echo, returned as `[value]`."""
        if not (0 <= unit <= 255 and 0 <= address <= 0xFFFF and 0 <= value <= 0xFFFF):
            raise ValueError(f"not a Modbus write: unit {unit} fc6 {address} = {value}")
        tid = self._last_tid % 0xFFFF + 1
        if tid in self._in_flight or tid in self._late:
            tid = self._free_tid(tid)
        self._last_tid = tid
        self._in_flight[tid] = (unit, WRITE_REGISTER, 3, address, value)  # echo: 3 + 3 = length 6
        return tid, _REQUEST.pack(tid, 0, 6, unit, WRITE_REGISTER, address, value)

    def _free_tid(self, tid: int) -> int:
        in_flight, late = self._in_flight, self._late
        if len(in_flight) + len(late) >= 0xFFFF:
            raise ValueError("every transaction id is in flight")
        while tid in in_flight or tid in late:
            tid = tid % 0xFFFF + 1
        return tid

    def expire(self, tid: int) -> None:
        """The request `tid` timed out or was given up: skip its answer if it still comes."""
        request = self._in_flight.pop(tid, None)
        if request is None:
            return
        late = self._late
        late[tid] = request
        if len(late) > LATE_KEPT:
            del late[next(iter(late))]

    def reset(self) -> None:
        """Forget every byte and request: for a new connection, or after a protocol error."""
        self._buffer.clear()
        self._in_flight.clear()
        self._late.clear()

    def feed(self, data: bytes) -> None:
        """Bytes as they arrived from the connection."""
        self._buffer += data

    def next_reply(self) -> Reply | None:
        """The next whole, checked reply; None until more bytes arrive. Raises `ProtocolError`.

        Each check runs as soon as its bytes are in, in byte order: the same frame fails with the
        same reason however the stream was split."""
        buffer = self._buffer
        while (size := len(buffer)) >= 6:
            tid, protocol, length = _HEADER.unpack_from(buffer)
            if protocol != 0:
                raise self._fail("protocol_id", f"protocol id {protocol} (Modbus is 0)")
            if length < MIN_LENGTH or length > MAX_LENGTH:
                raise self._fail("length", f"MBAP length {length} (a reply has {MIN_LENGTH}..{MAX_LENGTH})")
            request = self._in_flight.get(tid)
            late = request is None
            if request is None:
                request = self._late.get(tid)
                if request is None:
                    raise self._fail("transaction_id", f"transaction id {tid} answers no request")
            unit, function, data_bytes, _, quantity = request
            if size < 7:
                return None
            if buffer[6] != unit:
                raise self._fail("unit_id", f"{_describe(request, tid)}: reply from unit {buffer[6]}")
            if size < 8:
                return None
            code = buffer[7]
            if code == function:
                expected = 3 + data_bytes
            elif code == function | 0x80:
                expected = 3
            else:
                raise self._fail("function_code", f"{_describe(request, tid)}: reply has fc{code}")
            if size < 9:
                return None
            if expected != 3 and function != WRITE_REGISTER and buffer[8] != data_bytes:
                detail = f"{_describe(request, tid)}: byte count {buffer[8]}, expected {data_bytes}"
                raise self._fail("byte_count", detail)
            if expected == 3 and buffer[8] == 0:
                raise self._fail("exception_code", f"{_describe(request, tid)}: exception code 0")
            if length != expected:
                detail = f"{_describe(request, tid)}: MBAP length {length}, expected {expected}"
                raise self._fail("length", detail)
            end = 6 + length
            if size < end:
                return None
            if function == WRITE_REGISTER and expected != 3:
                echo = _ECHO.unpack_from(buffer, 8)
                if echo != request[3:]:
                    detail = f"{_describe(request, tid)}: echo {echo[0]} = {echo[1]}"
                    raise self._fail("echo", detail)
                reply: Reply = (tid, [quantity], 0)
            elif expected != 3:
                reply = (tid, _values(buffer, function, quantity), 0)
            else:
                reply = (tid, None, buffer[8])
            del buffer[:end]
            if late:
                del self._late[tid]
                continue
            del self._in_flight[tid]
            return reply
        return None

    def _fail(self, reason: str, detail: str) -> ProtocolError:
        head = bytes(self._buffer[:12]).hex(" ")
        self.reset()
        return ProtocolError(reason, f"Modbus TCP reply: {detail} (frame starts {head})")


def _describe(request: _Request, tid: int) -> str:
    unit, function, _, address, quantity = request
    return f"unit {unit} fc{function} {address}+{quantity}, transaction {tid}"


def _values(frame: bytearray, function: int, quantity: int) -> list[int] | list[bool]:
    """The values of a checked, whole frame at the start of `frame`."""
    if function in BIT_FUNCTIONS:
        return [bool(frame[9 + (i >> 3)] >> (i & 7) & 1) for i in range(quantity)]
    words = _WORDS.get(quantity)
    if words is None:
        words = _WORDS[quantity] = struct.Struct(f">{quantity}H")
    return list(words.unpack_from(frame, 9))
