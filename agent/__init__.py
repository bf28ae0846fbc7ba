"""energy-agent: an edge agent for factory energy monitoring."""

__version__ = "0.1.0"
__all__ = ["__version__"]
