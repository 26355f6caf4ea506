"""``wharfie update``: change resources or the restart policy of containers."""

from __future__ import annotations

from typing import Any

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options


def update_body(opts: Options) -> dict[str, Any]:
    """``container.UpdateConfig`` (Resources + RestartPolicy) in Go field order."""
    from wharfie.cli.containeropts import parse_restart_policy

    restart = {"Name": "", "MaximumRetryCount": 0}
    if opts.restart:
        restart = parse_restart_policy(opts.restart)
    body: dict[str, Any] = {
        "CpuShares": opts.cpu_shares, "Memory": opts.memory, "NanoCpus": opts.cpus,
        "CgroupParent": "", "BlkioWeight": opts.blkio_weight,
        "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None,
        "CpuPeriod": opts.cpu_period, "CpuQuota": opts.cpu_quota,
        "CpuRealtimePeriod": opts.cpu_rt_period, "CpuRealtimeRuntime": opts.cpu_rt_runtime,
        "CpusetCpus": opts.cpuset_cpus, "CpusetMems": opts.cpuset_mems,
        "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None,
    }
    if opts.kernel_memory:
        body["KernelMemory"] = opts.kernel_memory
    body.update({
        "MemoryReservation": opts.memory_reservation, "MemorySwap": opts.memory_swap,
        "MemorySwappiness": None, "OomKillDisable": None,
        "PidsLimit": opts.pids_limit if opts.pids_limit != 0 else None,
        "Ulimits": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0, "RestartPolicy": restart,
    })
    return body


def run_update(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.errors import WharfieError

    if not opts.changed:
        raise CLIError("you must provide one or more flags when using this command")
    body = update_body(opts)
    warnings: list[str] = []
    errors: list[str] = []
    for name in args:
        try:
            resp = cli.client.container_update(name, body) or {}
        except WharfieError as e:
            errors.append(str(e))
            continue
        cli.out.write(name + "\n")
        warnings += resp.get("Warnings") or []
    if warnings:
        cli.out.write("\n".join(warnings) + "\n")
    if errors:
        raise CLIError("\n".join(errors))
    return 0


def update_command() -> Command:
    from wharfie.cli.containeropts import mem_swap_bytes, parse_cpus, parse_uint, ram_in_bytes

    return Command(
        use="update [OPTIONS] CONTAINER [CONTAINER...]",
        short="Update configuration of one or more containers",
        aliases=f"{PROG} container update, {PROG} update",
        flags=[
            Flag("blkio-weight", "", "value",
                 "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)",
                 convert=parse_uint(16), metavar="uint16", default=0),
            Flag("cpu-period", "", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
            Flag("cpu-quota", "", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
            Flag("cpu-rt-period", "", "int", "Limit the CPU real-time period in microseconds"),
            Flag("cpu-rt-runtime", "", "int", "Limit the CPU real-time runtime in microseconds"),
            Flag("cpuset-cpus", "", "string", "CPUs in which to allow execution (0-3, 0,1)"),
            Flag("cpuset-mems", "", "string", "MEMs in which to allow execution (0-3, 0,1)"),
            Flag("cpu-shares", "c", "int", "CPU shares (relative weight)"),
            Flag("memory", "m", "value", "Memory limit", convert=ram_in_bytes, metavar="bytes",
                 default=0),
            Flag("memory-reservation", "", "value", "Memory soft limit", convert=ram_in_bytes,
                 metavar="bytes", default=0),
            Flag("memory-swap", "", "value",
                 "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
                 convert=mem_swap_bytes, metavar="bytes", default=0),
            Flag("kernel-memory", "", "value", "Kernel memory limit (deprecated)",
                 convert=ram_in_bytes, metavar="bytes", default=0, hidden=True),
            Flag("restart", "", "string", "Restart policy to apply when a container exits"),
            Flag("pids-limit", "", "int", "Tune container pids limit (set -1 for unlimited)"),
            Flag("cpus", "", "value", "Number of CPUs", convert=parse_cpus, metavar="decimal",
                 default=0),
        ],
        args=("min", 1),
        run=run_update,
    )
