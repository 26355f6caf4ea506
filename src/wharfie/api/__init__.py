"""The Docker Engine API server."""
