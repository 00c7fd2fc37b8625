"""impactlens: IT incidents in business terms."""

__version__ = "0.1.0"
