"""Overlayfs snapshot directories keyed by layer chain ID."""
