"""The composition root: buses, pollers and the output, run under one asyncio TaskGroup.

`Agent.run()` starts one arbiter per bus and one poller per enabled device and returns after `stop()`
once every poller has finished its in-flight poll, the output is flushed and every link is closed.
`reload()` applies a new config without dropping data: a device whose config, bus and profile are
unchanged keeps its poller (counter state, sequence numbers, schedule); a changed device is restarted
with its state carried over (same profile) so its sequence continues; new devices start, removed ones
stop. An invalid new config is logged with every issue and the running one stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from agent.config.loader import LoadedConfig, issue_lines
from agent.config.profile import Profile
from agent.config.site import Device, RtuOverTcpBus, SerialBus, TcpBus
from agent.errors import ConfigError
from agent.modbus.bus import LineArbiter, LinkFactory, PoolArbiter, arbiter_for
from agent.modbus.lines import line_loads, plan_cost_for
from agent.readings.model import PollResult
from agent.runtime.health import HealthSnapshot
from agent.runtime.logfmt import log_event
from agent.runtime.output import Output
from agent.runtime.poller import DevicePoller, DeviceState, PollerSettings
from agent.runtime.schedule import Clock, default_clock

__all__ = ["Agent"]

log = logging.getLogger("agent.runtime")

AnyBus = TcpBus | RtuOverTcpBus | SerialBus
ConfigLoader = Callable[[], LoadedConfig]


@dataclass
class _Running:
    poller: DevicePoller
    task: asyncio.Task[None]
    spec: tuple[Device, AnyBus, Profile]


@dataclass
class _BusEntry:
    config: AnyBus
    arbiter: LineArbiter | PoolArbiter


class Agent:
    """Runs every device of a site config until stopped."""

    def __init__(
        self,
        loaded: LoadedConfig,
        output: Output,
        *,
        clock: Clock | None = None,
        settings: PollerSettings | None = None,
        loader: ConfigLoader | None = None,
        link_factories: Mapping[str, LinkFactory] | None = None,
    ) -> None:
        self.loaded = loaded
        self.output = output
        self.clock = clock or default_clock()  # ENERGY_AGENT_SIM_CLOCK: simulated time (tests only)
        # interval energy in the site's interval, the same buckets as the live recorder's series
        bucket_s = loaded.config.analytics.interval_minutes * 60.0
        self.settings = settings or PollerSettings(bucket_s=bucket_s)
        self._loader = loader
        self._link_factories = dict(link_factories or {})
        self._commands: asyncio.Queue[str] = asyncio.Queue()
        self._buses: dict[str, _BusEntry] = {}
        self._running: dict[str, _Running] = {}
        self._tg: asyncio.TaskGroup | None = None
        self.reloads = 0
        self.started = asyncio.Event()
        self.stopping = asyncio.Event()  # set when a stop is asked: background loops end with it

    # -- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the agent to finish in-flight polls, flush the output and return from run()."""
        self._commands.put_nowait("stop")

    def request_reload(self) -> None:
        """Re-read the config (via the loader given at construction) and apply it."""
        self._commands.put_nowait("reload")

    def health(self) -> dict[str, HealthSnapshot]:
        """Health of every running device, by device name."""
        return {name: r.poller.health.snapshot() for name, r in sorted(self._running.items())}

    def pollers(self) -> dict[str, DevicePoller]:
        return {name: r.poller for name, r in self._running.items()}

    def latest(self, device: str) -> PollResult | None:
        """The latest poll of a running device (None: not polled, or not yet)."""
        running = self._running.get(device)
        return running.poller.last if running is not None else None

    def arbiters(self) -> dict[str, LineArbiter | PoolArbiter]:
        """The bus arbiters by bus name (replaced on a reload that changes a bus)."""
        return {name: entry.arbiter for name, entry in self._buses.items()}

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        site = self.loaded.config.site.name
        log_event(log, logging.INFO, "agent_start", site=site, devices=len(self.loaded.config.devices))
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                await self._apply(self.loaded)
                self.started.set()
                await self._serve_commands()
                await self._stop_all()
        finally:
            self._tg = None
            await self.output.flush()
            for entry in self._buses.values():
                await entry.arbiter.close()
            self._buses.clear()
            log_event(log, logging.INFO, "agent_stop", site=site)

    async def _serve_commands(self) -> None:
        while True:
            command = await self._commands.get()
            if command == "stop":
                self.stopping.set()
                return
            await self._reload()

    async def _reload(self) -> None:
        if self._loader is None:
            log_event(log, logging.WARNING, "reload_ignored", reason="no config loader")
            return
        try:
            new = await asyncio.to_thread(self._loader)
        except ConfigError as exc:
            log_event(log, logging.ERROR, "reload_rejected", issues=len(exc.issues))
            for line in issue_lines(exc.issues):
                log_event(log, logging.ERROR, "config_issue", issue=line)
            return
        except Exception as exc:  # noqa: BLE001 - whatever the new file does, the running config stays
            log_event(log, logging.ERROR, "reload_rejected", error=f"{type(exc).__name__}: {_one_line(exc)}")
            return
        await self.reload(new)

    async def reload(self, new: LoadedConfig) -> None:
        """Apply `new` while running (unchanged devices keep polling undisturbed)."""
        await self._apply(new)
        self.loaded = new
        self.reloads += 1
        log_event(log, logging.INFO, "config_reloaded", devices=len(self._running))

    async def _apply(self, loaded: LoadedConfig) -> None:
        config = loaded.config
        buses = {b.name: b for b in config.buses}
        wanted = {d.name: d for d in config.devices if d.enabled}
        old_buses = self._swap_buses(buses)
        self._report_line_loads(loaded)
        for name in list(self._running):
            if name not in wanted:
                await self._stop_device(name)
                log_event(log, logging.INFO, "device_removed", device=name)
        for device in wanted.values():
            profile = loaded.registry.get(device.profile)
            spec = (device, buses[device.bus], profile)
            current = self._running.get(device.name)
            if current is not None and current.spec == spec and current.poller.bus is self._arbiter(device):
                continue
            state = await self._stop_device(device.name) if current is not None else None
            if state is not None and current is not None and current.spec[2].id != profile.id:
                state = DeviceState(device.name, seq=state.seq)
            self._start(config.site.name, spec, state)
        for entry in old_buses:
            await entry.arbiter.close()

    def _report_line_loads(self, loaded: LoadedConfig) -> None:
        """How busy each RS-485 line of known speed will be: a warning when the config asks for
        more wire time than the line has (the pollers would skip slots), else one info line."""
        for load in line_loads(loaded.config, loaded.registry.get, loaded.issue_at):
            log_event(
                log,
                logging.WARNING if load.issue is not None else logging.INFO,
                "line_load",
                bus=load.bus,
                baudrate=load.baudrate,
                devices=load.devices,
                busy_pct=round(100 * load.busy, 1),
                round_s=round(load.round_s, 3),
                warning=str(load.issue) if load.issue is not None else None,
            )

    def _swap_buses(self, buses: dict[str, AnyBus]) -> list[_BusEntry]:
        """Keep arbiters of unchanged buses, make new ones; return the retired ones (to close)."""
        retired = [e for name, e in self._buses.items() if buses.get(name) != e.config]
        kept = {name: e for name, e in self._buses.items() if buses.get(name) == e.config}
        for name, bus in buses.items():
            if name not in kept:
                kept[name] = _BusEntry(bus, arbiter_for(bus, self._link_factories.get(name)))
        self._buses = kept
        return retired

    def _arbiter(self, device: Device) -> LineArbiter | PoolArbiter:
        return self._buses[device.bus].arbiter

    def _start(self, site: str, spec: tuple[Device, AnyBus, Profile], state: DeviceState | None) -> None:
        assert self._tg is not None, "devices start only while the agent runs"
        device, bus, profile = spec
        poller = DevicePoller(
            site=site,
            device=device,
            profile=profile,
            bus=self._arbiter(device),
            output=self.output,
            clock=self.clock,
            state=state,
            settings=self.settings,
            plan_cost=plan_cost_for(bus),
        )
        task = self._tg.create_task(poller.run(), name=f"poll-{device.name}")
        self._running[device.name] = _Running(poller, task, spec)
        log_event(
            log,
            logging.INFO,
            "device_start",
            device=device.name,
            bus=device.bus,
            interval_s=device.interval_s,
        )

    async def _stop_device(self, name: str) -> DeviceState:
        running = self._running.pop(name)
        running.poller.stop()
        await running.task
        return running.poller.state

    async def _stop_all(self) -> None:
        for running in self._running.values():
            running.poller.stop()
        await asyncio.gather(*(r.task for r in self._running.values()))


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."
