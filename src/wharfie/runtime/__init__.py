"""The container runtime: OCI spec, built-in executor, shim."""
