"""``tongban bench``: run scenarios against a gateway started for the run; table and JSON."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gateway.bench.cluster import Cluster
from gateway.bench.report import markdown_table, print_table, write_json
from gateway.bench.scenarios import SCENARIOS, Bench

__all__ = ["bench_command"]


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


@click.command("bench")
@click.option(
    "--scenario",
    type=click.Choice([*SCENARIOS, "all"]),
    multiple=True,
    default=("intake",),
    show_default=True,
    help="What to measure (repeatable); 'all' runs every scenario.",
)
@click.option("--backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite",
              show_default=True, help="The gateway's store (PostgreSQL: a fresh database "
              "on 127.0.0.1:5432, dropped after).")  # fmt: skip
@click.option("--processes", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Gateway processes (PostgreSQL only): `serve --workers N`.")  # fmt: skip
@click.option("--duration", type=click.FloatRange(0.5), default=5.0, show_default=True,
              help="Seconds of load per run.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1, 4096), default=16, show_default=True,
              help="Concurrent keep-alive clients in the load process.")  # fmt: skip
@click.option("--runs", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Runs per row; throughput is their median.")  # fmt: skip
@click.option("--load-processes", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Processes the load is spread over (one signs ~1,300 req/s here).")  # fmt: skip
@click.option("--rate", type=click.FloatRange(1, 100_000), default=300.0, show_default=True,
              help="added-latency: the fixed arrival rate (requests/s, open loop).")  # fmt: skip
@click.option("--growth", "growth_sizes", default="10000,1000000", show_default=True,
              help="Growth: stored applications to measure at, comma-separated.")  # fmt: skip
@click.option("--explain", is_flag=True,
              help="Print the plan of every query partner requests run, and exit.")  # fmt: skip
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (for the README).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every row, with the machine and command, to this file.")  # fmt: skip
def bench_command(
    scenario: tuple[str, ...],
    backend: str,
    processes: int,
    duration: float,
    concurrency: int,
    runs: int,
    load_processes: int,
    rate: float,
    growth_sizes: str,
    explain: bool,
    markdown: bool,
    json_path: Path | None,
) -> None:
    """Measure the gateway against a bare handler, the sandbox and nginx, in one run.

    Starts the gateway and the region sandboxes as separate processes on loopback
    (as in production), drives signed, durable load from another process, and
    prints throughput (median of runs), latency percentiles, the gateway's CPU
    seconds and peak RSS, each as a ratio to its baseline.
    """
    if processes > 1 and backend != "postgres":
        raise click.BadParameter(
            "several processes need --backend postgres", param_hint="--processes"
        )
    if explain:
        _print_plans(backend)
        return
    wanted = set(SCENARIOS) if "all" in scenario else set(scenario)
    try:
        sizes = [int(size) for size in growth_sizes.split(",")]
    except ValueError:
        raise click.BadParameter("whole numbers, comma-separated", param_hint="--growth") from None
    console = Console(stderr=True)
    started = datetime.now(UTC)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        steps = _steps(wanted, runs) + ("growth" in wanted) * len(sizes) * (2 * runs + 1)
        task = progress.add_task("starting the gateway and sandboxes", total=steps)

        def tick(what: str) -> None:
            progress.update(task, description=what, advance=1)

        with Cluster(backend=backend, processes=processes) as cluster:
            bench = Bench(
                cluster,
                duration=duration,
                concurrency=concurrency,
                runs=runs,
                load_processes=load_processes,
                rate=rate,
                tick=tick,
            )
            bench.prepare()
            baselines = bench.baselines(cluster.work)
            if "intake" in wanted:
                bench.intake(baselines)
            if "search" in wanted:
                bench.search(baselines)
            if "read-under-write" in wanted:
                bench.read_under_write(baselines)
            if "added-latency" in wanted:
                bench.added_latency()
            if wanted & {"e2e", "relay"}:
                bench.deliveries(baselines, wanted)
            if "growth" in wanted:
                bench.growth(sizes)
        progress.update(task, completed=steps, description="done")
    command = "tongban bench " + " ".join(
        [*(f"--scenario {s}" for s in sorted(scenario)), f"--backend {backend}",
         f"--processes {processes}", f"--duration {duration:g}",
         f"--concurrency {concurrency}", f"--runs {runs}", f"--load-processes {load_processes}",
         *([f"--rate {rate:g}"] if "added-latency" in wanted else []),
         *([f"--growth {growth_sizes}"] if "growth" in wanted else [])]
    )  # fmt: skip
    machine = f"{os.cpu_count()} × {_cpu_model()}, {platform.system()} {platform.release()}"
    title = f"{command}\n{machine}, {started:%Y-%m-%d %H:%M} UTC"
    if markdown:
        click.echo(f"`{command}` — {machine}, {started:%Y-%m-%d %H:%M} UTC\n")
        click.echo(markdown_table(bench.rows))
    else:
        print_table(bench.rows, title, Console(width=max(Console().width, 160)))
    if json_path is not None:
        write_json(
            json_path,
            bench.rows,
            {"command": command, "machine": machine, "nproc": os.cpu_count(),
             "cpu_model": _cpu_model(), "started": started.isoformat(),
             "backend": backend, "processes": processes, "duration": duration,
             "concurrency": concurrency, "runs": runs, "load_processes": load_processes,
             "rate": rate},
        )  # fmt: skip


def _print_plans(backend: str) -> None:
    import asyncio

    from gateway.bench.explain import explain_request_paths, is_full_scan

    console = Console(width=max(Console().width, 120), highlight=False)
    plans = asyncio.run(explain_request_paths(backend))
    scans = 0
    for sql, lines in plans:
        console.print(f"[bold]{sql}[/bold]", markup=True, soft_wrap=True)
        for line in lines:
            full = is_full_scan(line)
            scans += full
            console.print(("  [red]SCAN?[/red] " if full else "  ") + escape(line))
        console.print()
    console.print(
        f"{len(plans)} statements on {backend}; {scans} plan lines may read a whole table "
        "(SQLite also says SCAN for ORDER BY the primary key with LIMIT, which reads one end)."
    )


def _steps(wanted: set[str], runs: int) -> int:
    """Progress steps: one per run of each row."""
    rows = 4 + len(wanted & {"intake", "search"}) + 2 * ("read-under-write" in wanted)
    rows += 2 * ("added-latency" in wanted)
    rows += len(wanted & {"e2e", "relay"})
    return rows * runs
