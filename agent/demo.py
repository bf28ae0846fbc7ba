"""`energy-agent demo`: the demo factory end to end on one machine with nothing else installed.

The simulated factory (real Modbus servers on loopback), the agent polling it with its durable
outbox, an MQTT broker (Mosquitto when it is on the machine, else the embedded amqtt broker when it
is installed, else none), the local history store pre-filled with a year of 15-minute data in which
a retrofit happened four months ago (so baseline, savings and rating have a year behind them from
the first minute), and the dashboard. The scenario is re-dated so that its year ends today.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import tempfile
import time as pytime
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from agent.config.site import SiteConfig
from agent.history.importer import import_csv
from agent.history.store import HistoryStore
from agent.mv.series import (
    HEADER_PRESSURE_MIN_SERIES,
    HEADER_PRESSURE_SERIES,
    TEMPERATURE_SERIES,
    compressor_series,
)

__all__ = [
    "DemoPlan",
    "demo_rating_path",
    "demo_scenario",
    "demo_site_config",
    "import_format",
    "prepare_history",
    "served_endpoints",
    "start_broker",
]

log = logging.getLogger(__name__)

HISTORY_DAYS = 365
RETROFIT_DAYS_AGO = 120
TONNES_PER_TABLET = 0.5e-6  # a 0.5 g tablet: production is rated in tonnes (kgce/t in the rubric)


@dataclass(frozen=True)
class DemoPlan:
    workdir: Path
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    mqtt_port: int = 1883
    interval_s: float = 5.0
    history_days: int = HISTORY_DAYS
    broker: str = "auto"  # auto | mosquitto | embedded | none


def demo_scenario(today: date | None = None, days: int = HISTORY_DAYS) -> Any:
    """The shipped demo factory, re-dated: history ends today, the retrofit was 120 days ago."""
    from simulators.scenario import load_scenario

    base = load_scenario("demo_factory")
    today = today or datetime.now(base.start.tzinfo).date()
    first = today - timedelta(days=days)
    start = datetime.combine(first, time(0, 0), tzinfo=base.start.tzinfo)
    assert base.retrofit is not None, "the demo factory has a retrofit"
    retrofit = base.retrofit.model_copy(
        update={"date": today - timedelta(days=min(RETROFIT_DAYS_AGO, days // 3))}
    )
    return base.model_copy(update={"start": start, "retrofit": retrofit})


def prepare_history(
    scenario: Any,
    workdir: Path,
    days: int = HISTORY_DAYS,
    now: float | None = None,
    site: SiteConfig | None = None,
) -> Path:
    """Generate (once per day, cached) and import the scenario's history up to the current interval.

    The year goes in the way a real site's export does: written as a CSV in the public import format
    and loaded by `import_csv`, the function behind `energy-agent import` (`site`: the demo's site
    config; by default the one `demo_site_config` writes). Only intervals that have ended before `now`
    are imported, and only those newer than what the store already holds, so a restart later in the
    day fills the gap without rewriting the past."""
    from simulators.history import generate_history

    cache = workdir / "history" / f"{scenario.name}-{scenario.start.date()}-{days}d"
    generated = cache / "history.csv.gz"
    if not generated.exists():
        log.info("generating %d days of 15-minute history for %s (about 15 s) ...", days + 1, scenario.name)
        # the extra day covers today up to now
        generate_history(scenario, days + 1, cache, progress=history_progress(log))
    store_path = workdir / "store" / "history.db"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(generated)
    starts = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True))
    current = pd.Timestamp(now if now is not None else pytime.time(), unit="s", tz="UTC").floor("15min")
    with HistoryStore(store_path) as store:
        span = store.span()
        newest = span[1] if span is not None else starts[0]
        frame = frame[(starts >= newest) & (starts < current)]
        if len(frame):
            export = cache / "import.csv"
            import_format(scenario, frame).round(6).to_csv(export, index=False)  # repr: fast, exact
            config = site if site is not None else _static_site(scenario)
            try:
                log.info("imported %s", import_csv(export, config, store))
            finally:
                export.unlink()  # 16 MB for a year; the generated history stays cached
    return store_path


def history_progress(logger: logging.Logger) -> Callable[[int, int], None]:
    """A `generate_history` progress callback logging each tenth: 'generating history: 37/366 days (10 %)'."""
    shown = [0]

    def report(done: int, total: int) -> None:
        tenth = done * 10 // total
        if tenth > shown[0] or done == total:
            shown[0] = tenth
            logger.info("generating history: %d/%d days (%d %%)", done, total, done * 100 // total)

    return report


def import_format(scenario: Any, generated: pd.DataFrame) -> pd.DataFrame:
    """The simulator's generated history as a site's export: the columns `energy-agent import` reads
    (docs/analytics.md), production in the site's unit (tonnes), compressor hours instead of seconds."""
    out = pd.DataFrame({"timestamp": generated["timestamp"]})
    for device in scenario.devices:
        if f"{device.name}_kwh" in generated.columns:
            out[f"{device.name}_kwh"] = generated[f"{device.name}_kwh"]
    counters = [d.name for d in scenario.devices if d.kind == "production_counter"]
    tablets = sum((generated[f"{c}_units"] for c in counters), pd.Series(0.0, generated.index))
    out["production"] = tablets * TONNES_PER_TABLET
    out[TEMPERATURE_SERIES] = generated["temperature_c"]
    for device in (d.name for d in scenario.devices if d.kind == "compressor"):
        loaded, unloaded = generated[f"{device}_loaded_s"], generated[f"{device}_unloaded_s"]
        out[compressor_series(device, "loaded_h")] = loaded / 3600
        out[compressor_series(device, "running_h")] = (loaded + unloaded) / 3600
        out[compressor_series(device, "air_m3")] = generated[f"{device}_fad_m3"]
        out[compressor_series(device, "pressure_bar")] = generated[f"{device}_pressure_bar"]
        out[compressor_series(device, "pressure_min_bar")] = generated[f"{device}_pressure_min_bar"]
    if "air_header_pressure_bar" in generated.columns:  # what the header transmitter would have logged
        out[HEADER_PRESSURE_SERIES] = generated["air_header_pressure_bar"]
        out[HEADER_PRESSURE_MIN_SERIES] = generated["air_header_pressure_min_bar"]
    return out


def _static_site(scenario: Any) -> SiteConfig:
    """The demo's site config without a running factory (the devices, zone and analytics matter here)."""
    return SiteConfig.model_validate(demo_site_config(scenario, served_endpoints(scenario, 1502), None, 15.0))


def demo_site_config(
    scenario: Any, endpoints: list[Any], mqtt_port: int | None, interval_s: float
) -> dict[str, Any]:
    """A site config for the agent polling the simulated factory (also written out for the user)."""
    buses: dict[str, dict[str, Any]] = {}
    timeout = min(1.0, interval_s / 2)  # a dead device must not overrun the next slot
    for e in endpoints:
        if e.bus in buses:
            continue
        if e.transport == "serial":
            buses[e.bus] = {"name": e.bus, "type": "rtu", "port": e.address, "timeout_s": timeout}
        else:
            host, _, port = e.address.rpartition(":")
            buses[e.bus] = {
                "name": e.bus,
                "type": e.transport,
                "host": host,
                "port": int(port),
                "timeout_s": timeout,
            }
    site_meter = next(d.name for d in scenario.devices if d.kind == "meter" and "site" in d.measures)
    parent_of = {m: d.name for d in scenario.devices if d.kind == "meter" for m in d.measures}
    devices = []
    for e in endpoints:
        spec = scenario.device(e.device)
        parent = None
        if spec.kind == "meter" and spec.name != site_meter:
            parent = site_meter
        elif spec.kind == "compressor":
            parent = parent_of.get(str(spec.compressor))
        area = (
            "compressor-room"
            if spec.kind == "compressor" or e.device.startswith("compressor_room")
            else "plant"
        )
        carrier = {"carrier": "none"} if spec.kind in ("production_counter", "sensor") else {}
        devices.append(
            {
                "name": e.device,
                "bus": e.bus,
                "unit_id": e.unit_id,
                "profile": e.profile,
                "interval_s": interval_s,
                "area": area,
                **({"parent": parent} if parent else {}),
                **carrier,
            }
        )
    config: dict[str, Any] = {
        "site": {
            "name": "demo-factory",
            "display_name": "Demo pharma plant (Chongqing) / 示范制药厂（重庆）",
            "timezone": "Asia/Shanghai",
            "areas": [
                {"name": "plant", "display_name": "Plant"},
                {"name": "compressor-room", "display_name": "Compressor room"},
            ],
        },
        "buses": list(buses.values()),
        "devices": devices,
        "sinks": {"local_store": {"path": "store"}},
        "web": {"host": "127.0.0.1", "port": 8080},
        "analytics": _demo_analytics(scenario),
    }
    if mqtt_port is not None:
        config["sinks"]["mqtt"] = {"host": "127.0.0.1", "port": mqtt_port, "prefix": "energy"}
    return config


def _demo_analytics(scenario: Any) -> dict[str, Any]:
    """M&V settings that match the scenario: the baseline is the year before the retrofit date."""
    specs = {c.name: c for c in scenario.air.compressors}
    counters = [d.name for d in scenario.devices if d.kind == "production_counter"]
    sensor = next((d.name for d in scenario.devices if d.kind == "sensor"), None)
    return {
        "production": {
            "product": "tablets",
            "unit": "t",
            "column": "production",
            "output_value_yuan_per_unit": 0.35 / TONNES_PER_TABLET,  # 0.35 yuan a tablet: a demo figure
            # the live recorder counts the packaging line's tablets into tonnes
            "sources": [{"device": name, "factor": TONNES_PER_TABLET} for name in counters],
        },
        **({"temperature": {"device": sensor}} if sensor else {}),
        # the demo's energy audit: the boundary meter, 20 workshops/systems, 10 compressors >= 100 kW
        "metering": {"required_points": {"electricity": [1, 20, 10]}},
        "baseline": {"period_start": str(scenario.start.date()), "period_end": str(scenario.retrofit.date)},
        "rating": {"site_file": str(demo_rating_path())},
        "compressors": [
            _demo_compressor(d.name, specs[d.compressor]) for d in scenario.devices if d.kind == "compressor"
        ],
        "compressed_air": _demo_compressed_air(scenario),
    }


def _demo_compressor(device: str, spec: Any) -> dict[str, Any]:
    """What the machine's data sheet says: rated power and FAD, unloaded power, and for a VSD its
    power-to-flow points (CAGI style) at rated pressure, here the simulated machine's own curve."""
    entry: dict[str, Any] = {
        "device": device,
        "rated_power_kw": spec.rated_kw,
        "rated_fad_m3_min": spec.fad_m3min,
        "control": spec.kind,
        "unloaded_power_kw": round(spec.rated_kw * spec.unload_fraction, 2),
    }
    if spec.kind == "vsd":
        fixed = spec.vsd_fixed_fraction
        speeds = sorted({spec.min_speed, 0.5, 0.75, 1.0})
        entry["flow_curve"] = [
            [round(spec.rated_kw * (fixed + (1 - fixed) * s), 2), round(spec.fad_m3min * s, 3)]
            for s in speeds
        ]
        entry["flow_curve_bar"] = spec.rated_bar
    return entry


def _demo_compressed_air(scenario: Any) -> dict[str, Any]:
    """The declared base demand (air used around the clock by the process) and today's pressure band."""
    air, fix = scenario.air, scenario.retrofit
    band = fix.pressure_band_bar if fix is not None and fix.pressure_band_bar else air.pressure_band_bar
    return {"base_demand_m3_min": air.base_demand_m3min, "pressure_band_bar": list(band)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found is None and Path("/usr/sbin/mosquitto").exists():  # Debian puts it outside a user's PATH
        found = "/usr/sbin/mosquitto"
    return found


@contextlib.asynccontextmanager
async def start_broker(
    port: int, mosquitto: str | None, *, enabled: bool = True
) -> AsyncIterator[str | None]:
    """An MQTT broker on 127.0.0.1:port: Mosquitto if given, else amqtt if importable, else none."""
    if not enabled:
        yield None
        return
    if mosquitto:
        with tempfile.TemporaryDirectory() as tmp:
            conf = Path(tmp) / "mosquitto.conf"
            lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false"]
            conf.write_text("\n".join([*lines, "max_queued_messages 0", ""]), encoding="utf-8")
            proc = await asyncio.create_subprocess_exec(
                mosquitto, "-c", str(conf), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            try:
                await _wait_port(port, proc)
                yield f"mosquitto mqtt://127.0.0.1:{port}"
            finally:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=5)
        return
    try:
        from amqtt.broker import Broker
    except ImportError:
        log.warning("no MQTT broker: install mosquitto (apt) or the 'demo' extra (amqtt); MQTT is off")
        yield None
        return
    broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}})
    await broker.start()
    try:
        yield f"amqtt (embedded) mqtt://127.0.0.1:{port}"
    finally:
        await broker.shutdown()


async def _wait_port(port: int, proc: asyncio.subprocess.Process, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if proc.returncode is not None:
            err = (await proc.stderr.read()).decode() if proc.stderr else ""
            raise OSError(f"mosquitto exited with {proc.returncode}: {err.strip()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


def served_endpoints(scenario: Any, first_port: int, host: str = "127.0.0.1") -> list[Any]:
    """The endpoints `energy-agent simulate SCENARIO --port FIRST_PORT` serves (buses on consecutive
    ports), without starting anything: for writing or checking a static site config."""
    from simulators.server import Endpoint

    return [
        Endpoint(b.name, b.transport, f"{host}:{first_port + i}", d.unit_id, d.name, d.profile)
        for i, b in enumerate(scenario.buses)
        for d in b.devices
    ]


def write_config(config: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by `energy-agent demo` for the simulated factory it started; re-written each run.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def demo_rating_path() -> Path:
    """The demo factory's site rating file: example declared values and curves (docs/mv-validation.md)."""
    from agent.rating.files import builtin_rating_dir

    return builtin_rating_dir() / "demo_factory_rating.yaml"


async def run_demo(plan: DemoPlan, *, ready: Callable[[dict[str, str]], None] | None = None) -> None:
    """Start everything, call `ready(endpoints)`, run until SIGINT/SIGTERM, stop everything."""
    from agent.config.loader import load_config
    from agent.runtime.site import serve_site
    from simulators.clock import RealClock
    from simulators.server import SimulatedFactory

    scenario = demo_scenario(days=plan.history_days)
    factory = SimulatedFactory(scenario, clock=RealClock())
    mosquitto = find_mosquitto() if plan.broker in ("auto", "mosquitto") else None
    if plan.broker == "mosquitto" and mosquitto is None:
        raise OSError("--broker mosquitto: mosquitto is not installed (apt-get install mosquitto)")
    async with start_broker(plan.mqtt_port, mosquitto, enabled=plan.broker != "none") as broker:
        # The history first: generating it leaves each day's counter totals in the process, so the
        # factory's live counters start from them instead of simulating the past year again.
        history = await asyncio.to_thread(prepare_history, scenario, plan.workdir, plan.history_days)
        await factory.start()
        try:
            config = demo_site_config(
                scenario, factory.endpoints(), plan.mqtt_port if broker else None, plan.interval_s
            )
            config["web"] = {"host": plan.web_host, "port": plan.web_port}
            path = write_config(config, plan.workdir / "demo_site.yaml")
            loaded = load_config(path)
            endpoints = {
                "dashboard": f"http://{plan.web_host}:{plan.web_port}/",
                "mqtt": f"{broker}, topics energy/demo-factory/#" if broker else "off (no broker available)",
                "config": str(path),
                "history": str(history),
                "modbus": ", ".join(
                    sorted({f"{e.bus} {e.transport} {e.address}" for e in factory.endpoints()})
                ),
            }

            def started(*_: object) -> None:
                if ready is not None:
                    ready(endpoints)

            await serve_site(path, loaded, started=started)
        finally:
            await factory.stop()
