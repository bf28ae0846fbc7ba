"""Names of the history series that the live recorder and `energy-agent import` write and M&V reads.

One place, so a writer and a reader can never disagree on a name (the dashboard once read
`production` while the config said `tonnes`). Interval energy lives in the store's `energy` table
(one row per device and interval); every other quantity is a named series, one value per interval
start, in the unit given here.
"""

from __future__ import annotations

from agent.config.site import SiteConfig

__all__ = [
    "COMPRESSOR_FIELDS",
    "HEADER_PRESSURE_MIN_SERIES",
    "HEADER_PRESSURE_SERIES",
    "TEMPERATURE_SERIES",
    "compressor_series",
    "production_series",
]

# outdoor temperature, interval mean, degrees Celsius
TEMPERATURE_SERIES = "temperature_c"

# the compressed-air header (a transmitter with role header_pressure), bar(g): interval mean and the
# lowest sample of the interval
HEADER_PRESSURE_SERIES = "air.header_pressure_bar"
HEADER_PRESSURE_MIN_SERIES = "air.header_pressure_min_bar"

# per compressor, per interval: hours loaded, hours running (loaded + unloaded), free air delivered
# (m3 at intake conditions), discharge pressure mean and minimum (bar(g))
COMPRESSOR_FIELDS = ("loaded_h", "running_h", "air_m3", "pressure_bar", "pressure_min_bar")


def production_series(config: SiteConfig) -> str:
    """Production per interval, in the site's production unit (`analytics.production.unit`)."""
    return config.analytics.production.column


def compressor_series(device: str, field: str) -> str:
    """`{device}.{field}`, e.g. `compressor_1.loaded_h`; `field` is one of COMPRESSOR_FIELDS."""
    if field not in COMPRESSOR_FIELDS:
        raise ValueError(f"unknown compressor series field {field!r}; expected one of {COMPRESSOR_FIELDS}")
    return f"{device}.{field}"
