"""The dashboard web app: pages, the JSON API under /api/ (OpenAPI at /api/openapi.json), /metrics.

Everything is served by the agent itself (a gateway is often offline): our own HTML/CSS/JS from
`agent/web/static`, and plotly.js from the installed `plotly` wheel. Access: bound to loopback by
default; bound anywhere else a token is required (`check_bind`), and every request must carry it
(`Authorization: Bearer`, `X-Energy-Agent-Token`, or the cookie a browser gets from `/?token=...`).
"""

from __future__ import annotations

import hmac
import importlib.util
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

from agent.config.site import WEB_TOKEN_ENV, is_loopback
from agent.errors import ConfigError, ConfigIssue
from agent.web.air_trace import MAX_HOURS
from agent.web.jsonable import jsonable
from agent.web.metrics import render_metrics
from agent.web.source import DashboardSource

__all__ = ["PAGES", "TOKEN_COOKIE", "TOKEN_ENV", "check_bind", "create_app", "is_loopback"]

TOKEN_ENV = WEB_TOKEN_ENV  # one name for the config check and the server
TOKEN_COOKIE = "energy_agent_token"
PAGES = ("overview", "devices", "air", "control", "savings", "rating")
_STATIC = Path(__file__).parent / "static"
_TEMPLATE = Path(__file__).parent / "templates" / "page.html"
# In the navigation only while the site's control runs (mode advise, dry-run or active): most sites
# have none, and a "Control" tab on a site that controls nothing would suggest it does. The page
# itself is always served, and explains how to enable control.
_CONTROL_LINK = '<a href="/control" data-nav="control" data-i18n="nav.control">Control</a>'
_OWN_ASSETS = {"app.js": "text/javascript", "app.css": "text/css", "i18n.js": "text/javascript"}


def _config_error(field: str, message: str) -> ConfigError:
    return ConfigError([ConfigIssue("dashboard", None, field, message)])


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without an access token."""
    if not is_loopback(host) and not token:
        raise _config_error(
            "host",
            f"dashboard: binding to {host} exposes the site's data; set {TOKEN_ENV} to an access token "
            "(or bind to 127.0.0.1)",
        )


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed `plotly` package (never a CDN)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise _config_error("plotly", "the 'plotly' package is not installed (pip install plotly)")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-energy-agent-token") or request.cookies.get(TOKEN_COOKIE)


def _token_guard(
    token: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path == "/health" and request.client and is_loopback(request.client.host):
            return await call_next(request)  # a watchdog or container check on this machine
        offered = request.query_params.get("token")
        if offered is not None and request.method == "GET" and not request.url.path.startswith("/api/"):
            if not hmac.compare_digest(offered.encode(), token.encode()):
                return PlainTextResponse("invalid token", status_code=401)
            # A browser logs in once with ?token=; the cookie carries it afterwards, off the URL.
            redirect = RedirectResponse(request.url.path, status_code=303)
            redirect.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return redirect
        presented = _presented_token(request)
        if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
            return PlainTextResponse(
                "401: access token required (Authorization: Bearer ..., or open /?token=...)",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)

    return guard


def create_app(
    source: DashboardSource,
    *,
    token: str | None = None,
    poll_seconds: float = 5.0,
    health: Callable[[], Mapping[str, Any]] | None = None,
) -> FastAPI:
    """The dashboard app over a source. With `token`, every request must present it, except
    `GET /health` from a loopback client. `health` is the running agent's report
    (`agent.runtime.live.LiveView.health`); without one, /health answers 503 (no agent here)."""
    app = FastAPI(
        title="energy-agent dashboard API",
        version="1",
        description="Site energy, devices, compressed air, savings (IPMVP / ASHRAE Guideline 14) and rating.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads its assets from a CDN; the gateway may be offline.
        redoc_url=None,
    )
    if token:
        app.middleware("http")(_token_guard(token))
    _add_pages(app, source, poll_seconds)
    _add_api(app, source)
    _add_health(app, health)
    return app


def _add_health(app: FastAPI, health: Callable[[], Mapping[str, Any]] | None) -> None:
    # Outside the OpenAPI document (like /metrics): an operations endpoint whose 503 is its answer.
    @app.get("/health", include_in_schema=False)
    def health_() -> JSONResponse:
        if health is None:
            report: Mapping[str, Any] = {
                "status": "unhealthy",
                "healthy": False,
                "problems": ["no agent runs in this process (the dashboard serves a history file)"],
            }
        else:
            report = health()
        return JSONResponse(jsonable(report), status_code=200 if report.get("healthy") else 503)


def _add_pages(app: FastAPI, source: DashboardSource, poll_seconds: float) -> None:
    template = _TEMPLATE.read_text(encoding="utf-8")
    site = re.sub(r"[<>&\"']", "", source.settings.display_name or source.settings.site)
    timezone = re.sub(r"[^A-Za-z0-9_+/-]", "", source.settings.timezone)

    def page(name: str) -> HTMLResponse:
        controls = name == "control" or source.control().get("mode", "off") != "off"
        html = template.replace("{{page}}", name).replace("{{site}}", site).replace("{{timezone}}", timezone)
        html = html.replace("{{nav_control}}", _CONTROL_LINK if controls else "")
        return HTMLResponse(html.replace("{{poll_ms}}", str(int(poll_seconds * 1000))))

    for name in PAGES:
        path = "/" if name == "overview" else f"/{name}"
        app.add_api_route(path, lambda name=name: page(name), include_in_schema=False, methods=["GET"])

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            return FileResponse(plotly_js_path(), media_type="text/javascript")
        if name not in _OWN_ASSETS:
            raise HTTPException(404, f"no asset {name}")
        return FileResponse(_STATIC / name, media_type=_OWN_ASSETS[name])

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return PlainTextResponse(render_metrics(source.metrics()), media_type="text/plain; version=0.0.4")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _invalid_query(name: str, message: str) -> HTTPException:
    # The same shape as FastAPI's own 422 (HTTPValidationError), so a client parses one error format.
    return HTTPException(422, [{"loc": ["query", name], "msg": message, "type": "value_error"}])


_PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2]))?$"
# Documented in the OpenAPI schema, checked by _rating_period: FastAPI's own pattern check would
# answer with the bare regular expression.
_PERIOD = Query(
    None,
    description="A year 'YYYY' or a month 'YYYY-MM' (01-12); default: the latest",
    json_schema_extra={"pattern": _PERIOD_PATTERN},
)


def _rating_period(period: str | None) -> str | None:
    """'2026' or '2026-07'; anything else (a month 13, a word) is a 422 naming what is accepted."""
    if period is None or re.fullmatch(_PERIOD_PATTERN, period):
        return period
    raise _invalid_query(
        "period", f"period must be a year YYYY or a month YYYY-MM with month 01-12, got {period!r}"
    )


def _add_api(app: FastAPI, source: DashboardSource) -> None:
    @app.get("/api/overview", summary="Site power now, today's and this month's energy, cost, EUI, savings")
    def overview() -> JSONResponse:
        return JSONResponse(jsonable(source.overview()))

    @app.get("/api/devices", summary="Device status, health, last values and the meter-tree balance")
    def devices() -> JSONResponse:
        return JSONResponse(jsonable(source.devices()))

    @app.get("/api/energy", summary="Energy per device for charts (local time axis)")
    def energy(
        start: Annotated[
            datetime | None,
            Query(description="Local start, ISO 8601 (a date or date-time); default: 7 days before end"),
        ] = None,
        end: Annotated[datetime | None, Query(description="Local end, ISO 8601; default: now")] = None,
        freq: str = Query("interval", pattern="^(interval|hour|day|month)$"),
    ) -> JSONResponse:
        try:
            return JSONResponse(jsonable(source.energy(_iso(start), _iso(end), freq)))
        except ValueError as exc:
            raise _invalid_query("start", str(exc)) from exc

    @app.get(
        "/api/compressors", summary="Compressed air: machine states, shares, specific power, leaks, advice"
    )
    def compressors(days: int = Query(7, ge=1, le=366)) -> JSONResponse:
        return JSONResponse(jsonable(source.compressors(days)))

    @app.get(
        "/api/compressors/trace",
        summary="Compressed air over time: header pressure, band, per machine load/unload/off and pressure",
    )
    def compressor_trace(
        hours: int = Query(24, ge=1, le=MAX_HOURS, description=f"Window before now, 1..{MAX_HOURS} h"),
    ) -> JSONResponse:
        return JSONResponse(jsonable(source.compressor_trace(hours)))

    @app.get(
        "/api/control",
        summary="Compressor-room control: mode, per room the pressure band, pressure, demand, running "
        "machines, alarms and the recent decisions (docs/control.md); mode off and no rooms without control",
    )
    def control() -> JSONResponse:
        return JSONResponse(jsonable(source.control()))

    @app.get(
        "/api/savings",
        summary="Baseline vs actual, cumulative savings with the Annex B band, model statistics",
    )
    def savings_(start: date | None = None, end: date | None = None) -> JSONResponse:
        return JSONResponse(jsonable(source.savings(start, end)))

    @app.get("/api/rating", summary="Rating: dimensions, indicators, scores, grade, what would raise it")
    def rating(period: str | None = _PERIOD) -> JSONResponse:
        return JSONResponse(jsonable(source.rating(_rating_period(period))))

    @app.get(
        "/api/rating/package",
        summary="Download the rating data package (JSON)",
        responses={404: {"description": "No rating for the period (the reason is in `detail`)"}},
    )
    def rating_package(period: str | None = _PERIOD) -> JSONResponse:
        result: dict[str, Any] = source.rating(_rating_period(period))
        if not result.get("available"):
            raise HTTPException(404, result.get("reason", "no rating"))
        name = f"rating-{source.settings.site}-{result['period']}.json"
        return JSONResponse(
            jsonable(result["package"]), headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )
