"""Human-readable units the way Docker prints them (go-units) and Go durations, shared by the
daemon (progress messages, status texts) and the CLI."""


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration`` for a duration in seconds."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``300ms``, ``1.5s``, ``1m30s``, ``2h0m0s``."""
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    for limit, unit, name in ((1_000, 1, "ns"), (1_000_000, 1_000, "µs"), (1_000_000_000, 1_000_000, "ms")):
        if ns < limit:
            return sign + _decimal(ns, unit) + name
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    s = _decimal(rem, 10**9) + "s"
    return sign + (f"{h}h{m}m{s}" if h else f"{m}m{s}" if m else s)


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    return f"{whole}." + f"{frac:0{len(str(unit)) - 1}d}".rstrip("0")


_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _size_and_unit(size: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return size, units[i]


def _go_g(value: float, precision: int) -> str:
    """Go's ``%.*g``."""
    return f"{value:.{precision}g}"


def human_size_with_precision(size: float, precision: int) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal units (``1.98MB``, ``4.1kB``)."""
    value, unit = _size_and_unit(float(size), 1000.0, _DECIMAL)
    return _go_g(value, precision) + unit


def human_size(size: float) -> str:
    """go-units ``HumanSize`` (4 significant digits)."""
    return human_size_with_precision(size, 4)


def bytes_size(size: float) -> str:
    """go-units ``BytesSize``: binary units (``15.62GiB``)."""
    value, unit = _size_and_unit(float(size), 1024.0, _BINARY)
    return _go_g(value, 4) + unit
