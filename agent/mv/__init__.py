"""The one model of a site's M&V: meters, production, temperature, windows, adjustments.

Every view (dashboard, report, `energy-agent savings`, rating, MQTT) reads its figures from here, so
each number has one definition. `agent.mv.series` names the history series the live recorder and the
import command write and the model reads.
"""
