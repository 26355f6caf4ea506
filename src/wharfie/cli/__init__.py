"""The ``wharfie`` command line: a pure Engine API client with docker's commands,
flags, output and exit codes. Entry point: :func:`wharfie.cli.main.main`."""
