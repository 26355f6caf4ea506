"""Test support: daemon process management and client wrappers."""
