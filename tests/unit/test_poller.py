"""The device poller against a plain function at the bus seam, on a manual clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest

from agent.config.profile import Function, Profile
from agent.config.site import Device
from agent.errors import DeviceTimeout, ExceptionResponse, ProtocolError, Unreachable
from agent.modbus.bus import LineArbiter, Link, PoolArbiter
from agent.modbus.io import Registers
from agent.runtime.output import MemoryOutput
from agent.runtime.poller import DevicePoller, PollerSettings
from agent.runtime.schedule import ManualClock

PROFILE = Profile.model_validate(
    {
        "id": "test/meter",
        "vendor": "test",
        "model": "meter",
        "device_kind": "power_meter",
        "points": [
            {
                "name": "active_power_total_kw",
                "function": "input",
                "address": 0,
                "dtype": "uint16",
                "unit": "kW",
            },
            {"name": "voltage_v", "function": "input", "address": 4, "dtype": "uint16", "unit": "V"},
            {
                "name": "total_import_kwh",
                "function": "input",
                "address": 6,
                "dtype": "uint16",
                "unit": "kWh",
                "kind": "counter",
            },
        ],
    }
)


def device(**kw: object) -> Device:
    base: dict[str, object] = {
        "name": "m1",
        "bus": "b",
        "unit_id": 1,
        "profile": "test/meter",
        "interval_s": 15,
    }
    return Device.model_validate(base | kw)


class FakeBus:
    """A bus whose device serves `registers` (address -> word) through `handler`."""

    name = "fake"

    def __init__(self, handler: Callable[[int, int], Registers]) -> None:
        self.handler = handler
        self.requests: list[tuple[int, int]] = []

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        self.requests.append((address, count))
        return self.handler(address, count)

    async def close(self) -> None:
        pass


def serving(words: dict[int, int], illegal: frozenset[int] = frozenset()) -> Callable[[int, int], Registers]:
    def handler(address: int, count: int) -> Registers:
        if any(a in illegal for a in range(address, address + count)):
            raise ExceptionResponse(2)
        return [words.get(a, 0) for a in range(address, address + count)]

    return handler


def dead(address: int, count: int) -> Registers:
    raise DeviceTimeout("no answer")


async def test_one_request_serves_every_point_and_ts_is_the_slot() -> None:
    bus, out, clock = FakeBus(serving({0: 42, 4: 230, 6: 100})), MemoryOutput(), ManualClock(1000.0)
    poller = DevicePoller(site="s", device=device(), profile=PROFILE, bus=bus, output=out, clock=clock)
    result = await poller.poll(1005.0)
    assert bus.requests == [(0, 7)]
    assert (result.ts, result.seq, result.status) == (1005.0, 0, "ok")
    assert {r.point: r.value for r in result.readings} == {
        "active_power_total_kw": 42,
        "voltage_v": 230,
        "total_import_kwh": 100,
    }
    assert [e.state for e in out.events] == ["online"]


async def test_illegal_address_splits_the_block_and_the_plan_heals() -> None:
    bus = FakeBus(serving({0: 42, 4: 230, 6: 100}, illegal=frozenset({2})))
    poller = DevicePoller(
        site="s", device=device(), profile=PROFILE, bus=bus, output=MemoryOutput(), clock=ManualClock()
    )
    first = await poller.poll(1005.0)
    assert first.status == "ok"
    assert all(r.quality == "good" for r in first.readings)
    bus.requests.clear()
    await poller.poll(1020.0)
    assert all(not (a <= 2 < a + c) for a, c in bus.requests)


async def test_a_point_the_device_rejects_is_marked_bad_and_no_longer_read() -> None:
    bus = FakeBus(serving({0: 42, 6: 100}, illegal=frozenset({4})))
    poller = DevicePoller(
        site="s", device=device(), profile=PROFILE, bus=bus, output=MemoryOutput(), clock=ManualClock()
    )
    await poller.poll(1005.0)
    bus.requests.clear()
    result = await poller.poll(1020.0)
    voltage = next(r for r in result.readings if r.point == "voltage_v")
    assert (voltage.quality, voltage.reason) == ("bad", "illegal_address")
    assert all(not (a <= 4 < a + c) for a, c in bus.requests)


async def test_dead_device_goes_offline_once_and_is_probed_with_backoff() -> None:
    out, clock = MemoryOutput(), ManualClock(1000.0)

    def dead_for_an_hour(address: int, count: int) -> Registers:
        if clock.time() > 1000.0 + 3600:
            poller.stop()  # the poll in flight still finishes and is handed on
        return dead(address, count)

    bus = FakeBus(dead_for_an_hour)
    poller = DevicePoller(site="s", device=device(), profile=PROFILE, bus=bus, output=out, clock=clock)
    await asyncio.wait_for(poller.run(), timeout=10)
    probe_times = [r.ts for r in out.results]
    gaps = [b - a for a, b in itertools.pairwise(probe_times)]
    assert gaps[:5] == [30, 60, 120, 240, 300]
    assert set(gaps[5:]) == {300}
    assert [e.state for e in out.events] == ["offline"]
    assert all(count == 7 for _, count in bus.requests)  # one block per probe
    assert poller.health.snapshot().missed_slots == 0


async def test_recovery_is_one_online_event_and_seq_has_no_gaps() -> None:
    alive = {"ok": False}
    words = serving({6: 5})

    def flaky(address: int, count: int) -> Registers:
        if not alive["ok"]:
            raise DeviceTimeout("no answer")
        return words(address, count)

    out, clock = MemoryOutput(), ManualClock(1000.0)
    poller = DevicePoller(
        site="s", device=device(), profile=PROFILE, bus=FakeBus(flaky), output=out, clock=clock
    )
    for slot in (1005.0, 1020.0):
        await poller.poll(slot)
    alive["ok"] = True
    await poller.poll(1080.0)
    await poller.poll(1095.0)
    assert [e.state for e in out.events] == ["offline", "online"]
    assert [r.seq for r in out.results] == [0, 1, 2, 3]
    assert poller.health.snapshot().success_rate == pytest.approx(0.5)


async def test_a_device_refusing_every_point_goes_offline_with_a_reason_and_comes_back() -> None:
    refusing = {"on": True}
    words = serving({0: 42, 4: 230, 6: 100})

    def gateway(address: int, count: int) -> Registers:
        if refusing["on"]:  # e.g. a gateway answering 02 for a slave it has no map for
            raise ExceptionResponse(2)
        return words(address, count)

    out, clock, bus = MemoryOutput(), ManualClock(1000.0), FakeBus(gateway)
    poller = DevicePoller(site="s", device=device(), profile=PROFILE, bus=bus, output=out, clock=clock)
    for slot in (1005.0, 1035.0, 1095.0):  # the first poll, then probes
        result = await poller.poll(slot)
        assert result.status == "failed"
        assert {(r.quality, r.reason) for r in result.readings} == {("bad", "illegal_address")}
    assert [(e.state, e.reason) for e in out.events] == [("offline", "illegal_address")]
    assert poller.health.state == "offline"
    assert poller.plan  # the plan is kept whole, not healed into nothing
    refusing["on"] = False
    bus.requests.clear()
    result = await poller.poll(1215.0)
    assert (result.status, [e.state for e in out.events]) == ("ok", ["offline", "online"])
    assert {r.point: r.value for r in result.readings}["voltage_v"] == 230
    assert bus.requests == [(0, 7)]


async def test_a_device_refusing_only_some_points_stays_online() -> None:
    bus = FakeBus(serving({0: 42, 6: 100}, illegal=frozenset({4})))
    out = MemoryOutput()
    poller = DevicePoller(
        site="s", device=device(), profile=PROFILE, bus=bus, output=out, clock=ManualClock()
    )
    for slot in (1005.0, 1020.0):
        assert (await poller.poll(slot)).status == "partial"
    assert [e.state for e in out.events] == ["online"]


async def test_a_protocol_error_fails_the_poll_with_its_reason_and_the_next_poll_recovers() -> None:
    replies: list[Exception | None] = [ProtocolError("unit_id", "reply from unit 9"), None]
    words = serving({0: 42, 4: 230, 6: 100})

    def wire(address: int, count: int) -> Registers:
        error = replies.pop(0)
        if error is not None:
            raise error
        return words(address, count)

    out = MemoryOutput()
    poller = DevicePoller(
        site="s", device=device(), profile=PROFILE, bus=FakeBus(wire), output=out, clock=ManualClock()
    )
    bad = await poller.poll(1005.0)
    assert (bad.status, {r.reason for r in bad.readings}) == ("failed", {"protocol_error"})
    assert bad.error is not None
    assert "reply from unit 9" in bad.error
    good = await poller.poll(1035.0)
    assert (good.status, [(e.state, e.reason) for e in out.events]) == (
        "ok",
        [("offline", "protocol_error"), ("online", None)],
    )


async def test_counter_glitch_is_bad_and_interval_energy_is_exact() -> None:
    served = iter([100, 101, 0, 103, 104, 105, 106, 107])

    def meter(address: int, count: int) -> Registers:
        words = {6: next(served)}
        return [words.get(a, 0) for a in range(address, address + count)]

    out = MemoryOutput()
    dev = device(interval_s=30, rated_power_kw=200)
    settings = PollerSettings(bucket_s=60.0)
    bus = FakeBus(meter)
    poller = DevicePoller(
        site="s", device=dev, profile=PROFILE, bus=bus, output=out, clock=ManualClock(), settings=settings
    )
    for i in range(8):
        await poller.poll(60.0 * 100 + 30 * i)
    glitch = next(r for r in out.results[2].readings if r.point == "total_import_kwh")
    assert (glitch.quality, glitch.reason) == ("bad", "counter_drop")
    assert sum(r.kwh for r in out.intervals) == pytest.approx(6.0)  # 101 -> 106 closed; 106..107 open
    assert [r.start for r in out.intervals] == [6000.0, 6060.0, 6120.0]


async def test_line_arbiter_never_overlaps_and_keeps_the_inter_frame_delay() -> None:
    active, spans = [0], []
    loop = asyncio.get_running_loop()

    class SlowLink:
        async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
            active[0] += 1
            assert active[0] == 1, "two requests on one line at once"
            start = loop.time()
            await asyncio.sleep(0.002)
            spans.append((start, loop.time()))
            active[0] -= 1
            return [0] * count

        def close(self) -> None:
            pass

    async def factory() -> Link:
        return SlowLink()

    line = LineArbiter("l", factory, inter_frame_delay_s=0.005)
    await asyncio.gather(*(line.read(u, Function.INPUT, 0, 2) for u in range(1, 11)))
    spans.sort()
    assert all(b[0] - a[1] >= 0.0045 for a, b in itertools.pairwise(spans))
    assert line.open_links == 1


async def test_pool_reuses_links_up_to_max_and_closes_them() -> None:
    opened, closed, peak, active = [0], [0], [0], [0]

    class Conn:
        async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            await asyncio.sleep(0.001)
            active[0] -= 1
            return [1] * count

        def close(self) -> None:
            closed[0] += 1

    async def factory() -> Link:
        opened[0] += 1
        return Conn()

    pool = PoolArbiter("p", factory, max_connections=3)
    for _ in range(5):
        await asyncio.gather(*(pool.read(u, Function.HOLDING, 0, 1) for u in range(20)))
    assert (peak[0], opened[0]) == (3, 3)
    await pool.close()
    assert (closed[0], pool.open_links) == (3, 0)


async def test_broken_link_is_reopened_only_after_backoff() -> None:
    attempts = [0]

    async def refusing() -> Link:
        attempts[0] += 1
        raise Unreachable("refused")

    line = LineArbiter("l", refusing, reconnect_base_s=10.0)
    for _ in range(5):
        with pytest.raises(Unreachable):
            await line.read(1, Function.INPUT, 0, 1)
    assert attempts[0] == 1
