"""``wharfie login`` / ``wharfie logout``: credentials checked by the daemon (``POST /auth``),
kept in the docker config file or a credential helper."""

from __future__ import annotations

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options


def _domain(args: list[str]) -> str:
    from wharfie.cli.credentials import HUB_DOMAIN, hostname

    if not args:
        return HUB_DOMAIN
    host = hostname(args[0])
    return HUB_DOMAIN if host in ("index.docker.io", "registry-1.docker.io", HUB_DOMAIN) else host


def _read_credentials(cli: Cli, opts: Options, domain: str) -> tuple[str, str]:
    username, password = opts.username or "", opts.password or ""
    if opts.password_stdin:
        if opts.password:
            raise CLIError("--password and --password-stdin are mutually exclusive")
        if not username:
            raise CLIError("Must provide --username with --password-stdin")
        password = cli.stdin.read().rstrip("\r\n")
    elif password:
        cli.err.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if username and password:
        return username, password
    if not cli.in_is_terminal():
        raise CLIError("Cannot perform an interactive login from a non TTY device")
    if not username:
        cli.out.write("Username: ")
        cli.out.flush()
        username = cli.stdin.readline().strip()
        if not username:
            raise CLIError("Username is required")
    if not password:
        import getpass

        password = getpass.getpass("Password: ")
        if not password:
            raise CLIError("Error: Password Required")
    return username, password


def run_login(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli import credentials

    domain = _domain(args)
    key = credentials.server_key(domain)
    if not (opts.username or opts.password or opts.password_stdin):
        stored = credentials.get(domain)  # docker first tries what it already has
        if stored:
            try:
                cli.client.registry_login({**stored, "serveraddress": key})
                cli.out.write("Login Succeeded\n")
                return 0
            except Exception:  # noqa: BLE001 - fall through to asking
                pass
    username, password = _read_credentials(cli, opts, domain)
    resp = cli.client.registry_login({"username": username, "password": password, "serveraddress": key})
    token = str((resp or {}).get("IdentityToken") or "")
    try:
        credentials.store(domain, username, password, token)
    except credentials.CredentialError as e:
        raise CLIError(f"Error saving credentials: {e}") from None
    cli.out.write(f"{(resp or {}).get('Status') or 'Login Succeeded'}\n")
    return 0


def run_logout(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli import credentials

    domain = _domain(args)
    key = credentials.server_key(domain)
    if not credentials.erase(domain):
        cli.out.write(f"Not logged in to {key}\n")
        return 0
    cli.out.write(f"Removing login credentials for {key}\n")
    return 0


def login_command() -> Command:
    return Command(
        use="login [OPTIONS] [SERVER]",
        short="Authenticate to a registry",
        long="Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
        flags=[
            Flag("password", "p", "string", "Password or Personal Access Token (PAT)"),
            Flag("password-stdin", "", "bool", "Take the Password or Personal Access Token (PAT) from stdin"),
            Flag("username", "u", "string", "Username"),
        ],
        args=("max", 1),
        run=run_login,
    )


def logout_command() -> Command:
    return Command(
        use="logout [SERVER]",
        short="Log out from a registry",
        long="Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
        args=("max", 1),
        run=run_logout,
    )
