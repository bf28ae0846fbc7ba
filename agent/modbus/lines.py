"""How busy each RS-485 line is: the wire time its devices' read plans need per second.

Every device on one RS-485 line shares the wire, so a line can be over-subscribed by config alone:
ten SDM630 meters with all 51 points at 9600 baud need about 0.4 s of wire time per poll each, so a
1 s interval asks for 4 s of line time per second. The agent then skips slots (counted as
`missed_slots`, never queued), which at 2 a.m. looks like a flaky meter. This module predicts it
from the config, with the cost model the poller plans its reads with, so `energy-agent validate`
and `energy-agent run` can say so up front, per line, with the config line to change.

Pure: no I/O, no asyncio. Only lines whose baud rate is known are checked: a serial bus's
`baudrate`, an RTU-over-TCP converter's `line_baudrate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.config.profile import Profile
from agent.config.site import RtuOverTcpBus, SerialBus, SiteConfig, TcpBus
from agent.errors import ConfigIssue
from agent.modbus.plan import DEFAULT_COST, PlanCost, plan_cost, plan_for_profile

__all__ = ["NEAR_FULL", "LineLoad", "bus_baudrate", "line_loads", "plan_cost_for"]

# Above this share of the wire a retry, a timeout or a slow device already costs slots.
NEAR_FULL = 0.8
# What a device takes to start answering, beyond the wire time; meters are typically 5-50 ms.
DEVICE_TURNAROUND_S = 0.005

AnyBus = TcpBus | RtuOverTcpBus | SerialBus


def bus_baudrate(bus: AnyBus) -> int | None:
    """The RS-485 line speed of a bus, when the config says it."""
    if isinstance(bus, SerialBus):
        return bus.baudrate
    if isinstance(bus, RtuOverTcpBus):
        return bus.line_baudrate
    return None


def plan_cost_for(bus: AnyBus) -> PlanCost:
    """The cost model a device's reads are planned with on `bus`: wire time on an RS-485 line of
    known speed (frames in the bus's character framing, silences, the device's turnaround and the
    configured inter-frame delay), a TCP round trip otherwise."""
    baud = bus_baudrate(bus)
    if baud is None:
        return DEFAULT_COST
    char_bits = 11  # the Modbus serial-line default (8E1 / 8N2) when the converter's framing is unknown
    if isinstance(bus, SerialBus):
        char_bits = 1 + bus.bytesize + (bus.parity != "N") + bus.stopbits
    turnaround = DEVICE_TURNAROUND_S + bus.inter_frame_delay_ms / 1000.0
    return PlanCost.rtu(baud, turnaround_s=turnaround, char_bits=char_bits)


@dataclass(frozen=True, slots=True)
class LineLoad:
    """One RS-485 line: its devices' wire time per poll, and per second at their intervals."""

    bus: str
    baudrate: int
    devices: int
    round_s: float  # line time to poll every device once
    busy: float  # line time per second the intervals ask for (1.0 = the wire never idles)
    issue: ConfigIssue | None  # a warning at the bus's config line when the line is (nearly) full

    def describe(self) -> str:
        return (
            f"line {self.bus} ({self.baudrate} baud, {self.devices} device(s)): {100 * self.busy:.0f} % busy "
            f"({self.busy:.2f} s of wire time per second; a round of every device takes {self.round_s:.2f} s)"
        )


def line_loads(
    config: SiteConfig,
    profiles: Callable[[str], Profile],
    issue_at: Callable[[tuple[str | int, ...], str], ConfigIssue],
) -> list[LineLoad]:
    """The load of every RS-485 line of known speed that has enabled devices, in config order.

    `profiles` maps a profile id to its Profile; `issue_at(path, message)` places a warning in the
    config file (LoadedConfig.issue_at)."""
    loads: list[LineLoad] = []
    for index, bus in enumerate(config.buses):
        baud = bus_baudrate(bus)
        devices = [d for d in config.devices if d.enabled and d.bus == bus.name]
        if baud is None or not devices:
            continue
        cost = plan_cost_for(bus)
        round_s = busy = 0.0
        for device in devices:
            profile = profiles(device.profile)
            names = dict.fromkeys(device.points or [p.name for p in profile.points])
            seconds = plan_cost(plan_for_profile(profile, names, cost=cost), cost)
            round_s += seconds
            busy += seconds / device.interval_s
        issue = None
        if busy > 1.0:
            issue = issue_at(
                ("buses", index),
                f"line {bus.name} is over-subscribed: its {len(devices)} device(s) need {busy:.2f} s of "
                f"wire time per second at {baud} baud, so polls will skip slots (counted as "
                "missed_slots); lengthen the intervals, poll fewer points, raise the baud rate or "
                "split the line",
            )
        elif busy > NEAR_FULL:
            issue = issue_at(
                ("buses", index),
                f"line {bus.name} is {100 * busy:.0f} % busy at {baud} baud: one retry or slow device "
                "will skip slots; leave headroom (lengthen the intervals or poll fewer points)",
            )
        loads.append(LineLoad(bus.name, baud, len(devices), round_s, busy, issue))
    return loads
