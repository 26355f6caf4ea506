"""``wharfie registry serve`` and ``wharfie registry gc``: run our own OCI registry.

Not an Engine API client: these run the server in this process, so the server package is
imported only inside the run functions (``wharfie --help`` stays cheap).
"""

from __future__ import annotations

import sys

from wharfie.cli.command import Cli, Command, Flag, Options

DEFAULT_ROOT = "/var/lib/wharfie-registry"


def _logging(level: str) -> None:
    import logging

    logging.basicConfig(stream=sys.stderr, level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_serve(cli: Cli, opts: Options, args: list[str]) -> int:
    import asyncio

    from wharfie.registry.server.serve import Config, serve

    _logging(opts.log_level)
    cfg = Config(listen=opts.listen, root=opts.root, htpasswd=opts.htpasswd or None,
                 tls_cert=opts.tls_cert or None, tls_key=opts.tls_key or None)

    def ready(url: str) -> None:
        # The one line on stdout: scripts (and tests using --listen HOST:0) read the address here.
        cli.out.write(f"listening on {url}\n")
        cli.out.flush()

    asyncio.run(serve(cfg, on_ready=ready))
    return 0


def run_gc(cli: Cli, opts: Options, args: list[str]) -> int:
    from pathlib import Path

    from wharfie.registry.server.gc import collect
    from wharfie.registry.server.serve import root_lock
    from wharfie.registry.server.storage import Storage

    _logging(opts.log_level)
    with root_lock(Path(opts.root)):
        report = collect(Storage(opts.root), dry_run=opts.dry_run,
                         delete_untagged=opts.delete_untagged)
    verb = "would delete" if opts.dry_run else "deleted"
    for ref in report.untagged:
        cli.out.write(f"{verb} untagged manifest {ref}\n")
    for digest in report.deleted:
        cli.out.write(f"{verb} {digest}\n")
    cli.out.write(f"{len(report.deleted)} blob(s) {verb}, {report.freed} bytes; "
                  f"{report.marked} referenced\n")
    return 0


def registry_serve_command() -> Command:
    return Command(
        use="serve [OPTIONS]",
        short="Run an OCI distribution registry",
        flags=[
            Flag("listen", "", "string", "Address to listen on (HOST:PORT; port 0 picks one)",
                 default="127.0.0.1:5000"),
            Flag("root", "", "string", "Directory holding the registry's data", default=DEFAULT_ROOT),
            Flag("htpasswd", "", "string", "Require Basic auth against this htpasswd file (bcrypt)"),
            Flag("tls-cert", "", "string", "Serve HTTPS with this certificate (PEM)"),
            Flag("tls-key", "", "string", "Private key for --tls-cert (PEM)"),
            Flag("log-level", "", "string", "Log level (debug, info, warning, error)",
                 default="info"),
        ],
        args=("none", 0),
        run=run_serve,
    )


def registry_gc_command() -> Command:
    return Command(
        use="gc [OPTIONS]",
        short="Delete blobs no manifest references (the registry must be stopped)",
        flags=[
            Flag("root", "", "string", "Directory holding the registry's data", default=DEFAULT_ROOT),
            Flag("dry-run", "", "bool", "Only list what would be deleted"),
            Flag("delete-untagged", "", "bool",
                 "Also delete manifests no tag reaches (index children and referrers are kept)"),
            Flag("log-level", "", "string", "Log level (debug, info, warning, error)",
                 default="warning"),
        ],
        args=("none", 0),
        run=run_gc,
    )
