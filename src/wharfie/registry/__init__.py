"""Registries: the distribution client (pull, push, login) and, in `server/`, a registry server."""
