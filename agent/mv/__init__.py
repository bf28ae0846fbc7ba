"""The one model of a site's M&V: meters, production, temperature, windows, adjustments.

Every view (dashboard, report, `energy-agent savings`, rating, MQTT) reads its figures from here, so
each number has one definition (docs/mv.md). `agent.mv.site` defines the inputs from the site config
(`MvSite`, `mv_site`); `agent.mv.model.MvModel` computes from the history store; `agent.mv.results`
holds the typed results; `agent.mv.series` names the history series the live recorder and the
import command write and the model reads.

Importing `agent.mv` loads neither pandas nor numpy: `agent.mv.model` and `agent.mv.results` do,
and are imported where the figures are computed.
"""

from agent.mv.series import COMPRESSOR_FIELDS, TEMPERATURE_SERIES, compressor_series, production_series
from agent.mv.site import MvSite, electricity_tree, mv_site, resolve_path

__all__ = [
    "COMPRESSOR_FIELDS",
    "TEMPERATURE_SERIES",
    "MvSite",
    "compressor_series",
    "electricity_tree",
    "mv_site",
    "production_series",
    "resolve_path",
]
