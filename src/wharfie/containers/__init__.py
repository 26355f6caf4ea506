"""Containers: records, lifecycle, exec, logs, attach."""
