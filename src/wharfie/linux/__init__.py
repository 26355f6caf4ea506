"""Thin wrappers over Linux system calls that CPython 3.11 lacks, one module per facility."""
