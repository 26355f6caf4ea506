"""wharfie: a Docker-compatible container engine in Python."""

__version__ = "0.1.0"
API_VERSION = "1.50"
MIN_API_VERSION = "1.24"
