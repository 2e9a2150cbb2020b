"""tongban benchmark: `python -m bench.run [--quick] [--only hops|deployed|growth]` measures, writes
bench/RESULTS.md and bench/RESULTS.json (the same figures), prints a summary.

(a) and (b) run in this one process; (d) runs the deployed topology (infra.run: every process of
`make run`) and only drives its load from here. All on the broker and PostgreSQL named by
$TONGBAN_TEST_AMQP, $TONGBAN_TEST_BROKER_ADMIN and $TONGBAN_TEST_PG (as the tests; default this
machine's), on scratch vhosts and databases that are deleted at the end, even on failure.

(a) bare nameko event hop: a service dispatches N events with nameko's `EventDispatcher`
    (defaults: persistent, publisher confirms), one worker per event, `concurrency` at a time; a
    second service's `@event_handler` only counts them. events/s = N / (first dispatch → the
    handler seeing the N-th event).
(b) chassis event hop: the same N facts, each a committed transaction of its own (a state row and
    an outbox row, chassis `Database` + `Outbox`, issued from the same worker pool the same way);
    the chassis relay publishes them; a chassis `@handle_event` handler (envelope validation,
    inbox claim) writes a row to its own database. events/s = N / (first commit started → the
    consumer database holding all N rows, polled every 20 ms). Then checked: every fact handled
    exactly once, no unsent outbox row, no dead letter. The ratio b/a is reported; the target is
    b/a >= 1.0 (issue 15). A staged re-run (commit with the relay off, then relay the backlog, then
    consume it) shows each stage's own rate and CPU cost.
(g) cost growth (bench/growth.py): the payment run at 1, 2 and 4 million recipients, the old-age
    allowance enrolment over a registry of 1.25, 2.5 and 5 million (100,000 to 400,000 aged 80+,
    the care service as its own process) and 动态复核 of 25,000, 50,000 and 100,000 households
    against every data source (the assistance service and the partner data sources as their own
    processes), each with its time per size and the growth exponent per doubling.
(d) the deployed topology (bench/deployed.py): 结婚生育户口一件事 offered open-loop at stepped rates
    (first POST → "waiting"), 身后一件事 (death notice → every internal step done), and wrk reads
    of a matter and of a clerk's work queue against the same gateway process's /health/live, with
    the CPU of every process, PostgreSQL and the broker, and a py-spy profile of the gateway.

(a) and (b) run in `rounds` interleaved rounds (a, b, a, b, …) on fresh vhosts and databases, and
the median is reported with every round's figure, so a burst of other work on the machine shows
up rather than being hidden. CPU seconds are read from /proc for this process, PostgreSQL and
RabbitMQ over each measured window.

Exit status: 0 when every measurement ran and passed its checks; 1 otherwise. Missing a target
(b/a, a latency, a read ratio) is reported, not turned into a failure.
"""

import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")  # the message starts with a newline

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything imports socket or threading for real

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import eventlet.hubs  # noqa: E402
import greenlet  # noqa: E402

from bench import deployed, e2e, growth, hops  # noqa: E402
from bench.machine import CpuUse, machine_facts  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from infra.scratch import Scratch  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 1.0  # issue 15: the reliable hop as fast as a bare one


@dataclass(frozen=True)
class Params:
    mode: str
    events: int  # N, for (a) and (b)
    warmup_events: int  # handled before each timed run of (a) and (b), not counted
    concurrency: int  # producer calls in flight
    max_workers: int  # nameko worker pool of every service (and so bare nameko's prefetch)
    rounds: int
    stage_events: int  # facts in the staged re-run of (b)
    marriage_rates: tuple[float, ...]  # (d): 结婚生育户口一件事 offered at each, matters/s
    step_seconds: float  # (d): how long each rate is offered
    death_rate: float  # (d): 身后一件事 deaths notified per second
    death_seconds: float
    wrk_seconds: float  # (d): each wrk run
    profile_seconds: float  # (d): py-spy of the gateway during the top marriage rate and a matter read
    poll: float  # (d): seconds between a client's GETs of its matter (for its first second)

    @classmethod
    def full(cls):
        return cls(
            "full",
            events=5000,
            warmup_events=200,
            concurrency=10,
            max_workers=10,
            rounds=2,
            stage_events=1000,
            marriage_rates=(5.0, 10.0, 20.0, 50.0),
            step_seconds=12,
            death_rate=20.0,
            death_seconds=12,
            wrk_seconds=8,
            profile_seconds=6,
            poll=0.1,  # 50 matters/s polled every 50 ms would be 1,000 GETs/s from the client alone
        )

    @classmethod
    def quick(cls):
        return cls(
            "quick",
            events=500,
            warmup_events=50,
            concurrency=10,
            max_workers=10,
            rounds=1,
            stage_events=200,
            marriage_rates=(2.0, 5.0),
            step_seconds=5,
            death_rate=2.0,
            death_seconds=5,
            wrk_seconds=3,
            profile_seconds=2,
            poll=0.05,
        )

    def hop_timeout(self, kind: str) -> float:
        return max(30.0, self.events / 50) if kind == "a" else max(60.0, self.events / 25)


class Bench:
    def __init__(self, params: Params):
        self.p = params
        self.scratch = Scratch(prefix="bench")
        self.containers: list = []
        self.bare: list[hops.HopResult] = []
        self.chassis: list[hops.HopResult] = []
        self.stages: list[hops.StageResult] = []
        self.stage_failures: list[str] = []
        self.deployed: deployed.Deployed | None = None
        self.growth: growth.Growth | None = None
        self.problems: list[str] = []  # anything that makes the run a failure

    # --- phases --------------------------------------------------------------------------------

    def _phase(self, label: str, action):
        """Run one measurement on fresh resources; stop its services afterwards whatever happens."""
        print(f"[bench] {label} …", flush=True)
        started = time.monotonic()
        try:
            return action()
        except Exception as exc:
            self.problems.append(f"{label}: {exc!r}")
            traceback.print_exc()
            return None
        finally:
            self._stop_services()
            print(f"[bench] {label} took {time.monotonic() - started:.1f} s", flush=True)

    def _stop_services(self):
        for container in reversed(self.containers):
            try:
                with eventlet.Timeout(15):
                    container.stop()
            except BaseException:  # noqa: B036  (eventlet.Timeout is a BaseException)
                container.kill()
        self.containers.clear()

    def run_bare(self, k: int):
        result = hops.measure_bare(
            self.scratch.vhost(f"a{k}"),
            self.p.events,
            self.p.warmup_events,
            self.p.concurrency,
            self.p.max_workers,
            self.p.hop_timeout("a"),
            self.containers,
        )
        self.bare.append(result)

    def run_chassis(self, k: int):
        hops.register_contract()
        try:
            result = hops.measure_chassis(
                self.scratch.vhost(f"b{k}"),
                self.scratch.database(f"b{k}_producer"),
                self.scratch.database(f"b{k}_consumer"),
                self.p.events,
                self.p.warmup_events,
                self.p.concurrency,
                self.p.max_workers,
                self.p.hop_timeout("b"),
                self.containers,
            )
            self.chassis.append(result)
        finally:
            self._stop_services()
            hops.unregister_contract()

    def run_stages(self):
        hops.register_contract()
        try:
            self.stages, self.stage_failures = hops.measure_chassis_stages(
                self.scratch.vhost("stages"),
                self.scratch.database("stages_producer"),
                self.scratch.database("stages_consumer"),
                self.p.stage_events,
                self.p.concurrency,
                self.p.max_workers,
                self.p.hop_timeout("b"),
                self.containers,
            )
        finally:
            self._stop_services()
            hops.unregister_contract()

    def run_deployed(self):
        self.deployed = deployed.measure(self.scratch, self.p)

    def run_growth(self):
        self.growth = growth.measure(growth.Sizes.quick() if self.p.mode == "quick" else growth.Sizes())

    def run(self, only: str | None = None):
        if only in (None, "hops"):
            for k in range(1, self.p.rounds + 1):
                self._phase(f"(a) bare nameko hop, round {k}/{self.p.rounds}", lambda k=k: self.run_bare(k))
                self._phase(f"(b) chassis hop, round {k}/{self.p.rounds}", lambda k=k: self.run_chassis(k))
            self._phase("(b) chassis hop, one stage at a time", self.run_stages)
        if only in (None, "deployed"):
            self._phase("(d) the deployed topology (infra.run): one-matters and reads", self.run_deployed)
        if only in (None, "growth"):
            self._phase("(g) cost growth: payment run, allowance enrolment, 动态复核", self.run_growth)

    def close(self):
        self._stop_services()
        for failure in self.scratch.close():
            self.problems.append(f"cleanup: {failure}")

    # --- verdicts --------------------------------------------------------------------------------

    def rate(self, results) -> float | None:
        rates = [r.rate for r in results if r.rate and not r.failures]
        return statistics.median(rates) if len(rates) == len(results) and rates else None

    def collect_problems(self, only: str | None = None):
        if only is not None:
            self.problems.append(f"only {only} was run (--only)")
        for r in self.bare + self.chassis:
            self.problems += [f"{r.name}: {f}" for f in r.failures]
        if only in (None, "hops") and (len(self.bare) < self.p.rounds or len(self.chassis) < self.p.rounds):
            self.problems.append("not every round of (a)/(b) produced a result")
        self.problems += [f"stages: {f}" for f in self.stage_failures]
        if self.growth is None:
            if only in (None, "growth"):
                self.problems.append("(g) produced no result")
        else:
            self.problems += self.growth.failures
        if self.deployed is None:
            if only in (None, "deployed"):
                self.problems.append("(d) produced no result")
        else:
            d = self.deployed
            self.problems += [f"(d): {f}" for f in d.failures]
            if not d.marriage or d.death is None or not d.reads:
                self.problems.append("(d): not every measurement of the deployed topology ran")
            for r in d.reads:
                if r.requests_per_s is None:
                    self.problems.append(f"(d): wrk {r.name} -c{r.connections} gave no rate: {r.output[-300:]!r}")


# --- report ---------------------------------------------------------------------------------------


def _f(value, fmt="{:.0f}", none="—") -> str:
    return none if value is None else fmt.format(value)


def _cpu_cells(cpu: CpuUse | None, events: int) -> list[str]:
    if cpu is None:
        return ["—"] * 5
    per = cpu.per_event_ms(events)
    return [
        f"{100 * cpu.bench_process / cpu.wall:.0f} %",
        f"{per['bench_process']:.2f}",
        f"{per['postgres']:.2f}",
        f"{per['rabbitmq']:.2f}",
        f"{cpu.machine / cpu.wall:.2f} (other: {cpu.other / cpu.wall:.2f})",
    ]


def render(bench: Bench, facts: dict, started: datetime, elapsed: float) -> str:
    p = bench.p
    a, b = bench.rate(bench.bare), bench.rate(bench.chassis)
    ratio = b / a if a and b else None
    lines = [
        "# tongban benchmark results",
        "",
        f"Written by `python -m bench.run{' --quick' if p.mode == 'quick' else ''}` on "
        f"{started:%Y-%m-%d %H:%M UTC} ({p.mode} mode, {elapsed:.0f} s). What each figure means is in the "
        "docstring of `bench/run.py`; every figure below is from this one run.",
        "",
        "## Summary",
        "",
        "| measurement | result |",
        "| --- | --- |",
        f"| (a) bare nameko event hop | **{_f(a)} events/s** (median of {p.rounds}; rounds: "
        f"{', '.join(_f(r.rate) for r in bench.bare)}) |",
        f"| (b) chassis event hop (commit → relay → handler commit) | **{_f(b)} events/s** (median of {p.rounds}; "
        f"rounds: {', '.join(_f(r.rate) for r in bench.chassis)}) |",
        f"| b/a | **{_f(ratio, '{:.2f}')}** (target ≥ {TARGET_RATIO}: "
        f"{'met' if ratio and ratio >= TARGET_RATIO else 'NOT met'}; each round's b/a: "
        f"{', '.join(_f(rb.rate / ra.rate if ra.rate and rb.rate else None, '{:.2f}') for ra, rb in zip(bench.bare, bench.chassis))}) |",
    ]
    if bench.deployed is not None:
        lines += [
            f"| (d) {goal} | {result} — **{'met' if met else 'NOT met'}** |"
            for goal, result, met in deployed.verdicts(bench.deployed)
        ]
    if bench.growth is not None:
        lines += [
            f"| {goal} | {result} — **{verdict}** |" for goal, result, verdict in growth.summary_rows(bench.growth)
        ]
    lines += ["", f"Run status: {'OK' if not bench.problems else 'FAILED'}"]
    lines += [f"- {problem}" for problem in bench.problems]
    busy = contention(bench)
    if busy:
        lines += [
            "",
            "Other work on the machine was busy during some windows (cores used by processes that are "
            "not this benchmark, its databases or the broker): " + "; ".join(busy) + ". Those figures are "
            "lower than the machine can do alone.",
        ]

    lines += [
        "",
        "## (a) and (b) by round",
        "",
        "| round | hop | events | events/s | produce phase events/s | event lag p50 / p99 ms "
        "| events per consumer worker "
        "| bench process CPU busy | CPU ms/event: bench process | PostgreSQL | RabbitMQ | machine cores busy |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in range(p.rounds):
        for results in (bench.bare, bench.chassis):
            if k < len(results):
                r = results[k]
                lines.append(
                    f"| {k + 1} | {r.name} | {r.events} | {_f(r.rate)} | {_f(r.produce_rate)} | "
                    f"{_f(r.lag_p50_ms)} / {_f(r.lag_p99_ms)} | "
                    f"{'1' if r.mean_batch is None else f'{r.mean_batch:.1f}'} | "
                    + " | ".join(_cpu_cells(r.cpu, r.events))
                    + " |"
                )
    lines += [
        "",
        '"Produce phase" is the time until the last dispatch (a) or commit (b) returned; event lag '
        "is from the event's creation to its handler. CPU ms/event divides each party's CPU seconds "
        "over the window by N. PostgreSQL counts the backends of this run's databases and the server's own "
        "processes (a backend that exited during the window is missed); RabbitMQ is the whole broker, "
        'other users of it included; "other" is CPU used on the machine by anything else (other work '
        "running at the same time).",
    ]
    lines += limits(bench)

    lines += [
        "",
        "## (b) one stage at a time",
        "",
        f"The same chassis pieces, {p.stage_events} facts, each stage alone (nothing else running in the process).",
        "",
        "| stage | events/s | bench process CPU busy | CPU ms/event: bench process | PostgreSQL | RabbitMQ "
        "| machine cores busy |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in bench.stages:
        lines.append(f"| {s.name} | {_f(s.rate)} | " + " | ".join(_cpu_cells(s.cpu, s.events)) + " |")
    if bench.stages and all(s.seconds for s in bench.stages):
        serial = sum(s.seconds for s in bench.stages)
        cpu = sum(s.cpu.bench_process for s in bench.stages)
        lines += [
            "",
            f"Stages one after another: {p.stage_events / serial:.0f} events/s; this process spent "
            f"{1000 * cpu / p.stage_events:.2f} ms of CPU per fact over the three stages, so one core "
            f"running all three cannot exceed ≈ {p.stage_events / cpu:.0f} facts/s.",
        ]

    if bench.deployed is not None:
        lines += deployed.render(bench.deployed, p)
    if bench.growth is not None:
        lines += growth.render(bench.growth)

    lines += ["", "## Parameters", "", "| parameter | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in asdict(p).items()]
    lines += [
        "| (a)/(b) drive | in-process `Trigger` entrypoint (bench/hops.py), one worker per event, "
        "`concurrency` green threads, a warm-up before each timed run |",
        "| (a)/(b) layout | producer and consumer services in this one process, each a nameko container |",
        "| (b) event | `bench.fact_recorded` (data `{n}`), consumer queue `bench_consumer.on_fact` (a quorum "
        "queue, as the chassis declares every consumer queue) |",
        "| (d) couples | distinct valid resident IDs (men born 1985+, women 1992+), one couple per 30-minute "
        f"slot per office, offices {', '.join(e2e.OFFICES)}, slots from {e2e.FIRST_DAY_AHEAD} days ahead |",
        "| (d) clients | `requests` in green threads of this process, POSTs with an Idempotency-Key, clerk token "
        "scoped to the office; the partner simulator (its own process) answers as every department |",
        "| (d) services' config | infra/config/*.yaml as `make run` has it, `LOG_LEVEL` WARNING, real clock |",
        "| (a)/(b) services' config | `max_workers` above, `LOG_LEVEL` WARNING, default retry delays, real clock |",
    ]
    lines += ["", "## Machine", "", "| fact | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in facts.items()]
    lines += [
        "",
        "Other work on the machine (other people's tests, builds) shares the two cores; the CPU "
        "columns above show how much of the machine was busy with something else during each window.",
        "",
    ]
    return "\n".join(lines)


CONTENTION_CORES = 0.25  # other work above this during a window is called out in the report


def contention(bench: Bench) -> list[str]:
    windows = [
        (f"{r.name} round {k + 1}", r.cpu) for results in (bench.bare, bench.chassis) for k, r in enumerate(results)
    ]
    windows += [(f"stage {s.name}", s.cpu) for s in bench.stages]
    if bench.deployed is not None:
        windows += [(f"(d) {s.what} {s.rate:g}/s", s.cpu) for s in bench.deployed.marriage]
        windows += [("(d) after-death", bench.deployed.death.cpu)] if bench.deployed.death else []
    return [
        f"{name}: {cpu.other / cpu.wall:.2f}"
        for name, cpu in windows
        if cpu is not None and cpu.other / cpu.wall > CONTENTION_CORES
    ]


def _median_cpu(results, attr: str) -> float | None:
    values = [getattr(r.cpu, attr) * 1000 / r.events for r in results if r.cpu and not r.failures]
    return statistics.median(values) if values else None


def limits(bench: Bench) -> list[str]:
    """What the CPU figures say about (b)'s ceiling, from this run's numbers."""
    parts = ("bench_process", "postgres", "rabbitmq")
    a = {k: _median_cpu(bench.bare, k) for k in parts}
    b = {k: _median_cpu(bench.chassis, k) for k in parts}
    if None in a.values() or None in b.values():
        return []
    busy = statistics.median(100 * r.cpu.bench_process / r.cpu.wall for r in bench.chassis if r.cpu)
    total_a, total_b = sum(a.values()), sum(b.values())
    cores = os.cpu_count() or 1
    return [
        "",
        "### What limits (b)",
        "",
        f"During (b) this process was {busy:.0f} % busy (100 % = one core, all a Python process under "
        f"eventlet can use): the hop is CPU-bound. Per fact it spent {b['bench_process']:.2f} ms of CPU "
        f"against {a['bench_process']:.2f} ms per bare event, {b['bench_process'] / a['bench_process']:.1f}× "
        f"as much; PostgreSQL added {b['postgres']:.2f} ms and RabbitMQ {b['rabbitmq']:.2f} ms per fact "
        f"({a['rabbitmq']:.2f} ms per bare event). Counting all three, a fact costs {total_b:.1f} ms of CPU "
        f"and a bare event {total_a:.1f} ms, so on this {cores}-core machine b/a stays near "
        f"{total_a / total_b:.2f} however the services are spread over processes (at most "
        f"≈ {cores * 1000 / total_b:.0f} facts/s with every core busy), unless the per-fact cost falls. "
        "The stage table below splits the process's share between producer, relay and consumer; "
        "bench/PROFILE.md has a py-spy profile of the producer and consumer stages.",
    ]


def summary(bench: Bench) -> str:
    a, b = bench.rate(bench.bare), bench.rate(bench.chassis)
    out = [
        f"(a) bare nameko hop: {_f(a)} events/s   rounds: {[round(r.rate or 0) for r in bench.bare]}",
        f"(b) chassis hop:     {_f(b)} events/s   rounds: {[round(r.rate or 0) for r in bench.chassis]}",
        f"b/a = {_f(b / a if a and b else None, '{:.2f}')} (target >= {TARGET_RATIO})",
    ]
    for s in bench.stages:
        out.append(f"    stage {s.name}: {_f(s.rate)} events/s")
    if bench.deployed is not None:
        out += [f"(d) {goal}: {result} -> {'met' if met else 'NOT met'}" for goal, result, met in
                deployed.verdicts(bench.deployed)]  # fmt: skip
    if bench.growth is not None:
        out += [f"{goal}: {result} -> {verdict}" for goal, result, verdict in growth.summary_rows(bench.growth)]
    busy = contention(bench)
    if busy:
        out.append("note: other work on the machine (cores) during " + "; ".join(busy))
    out.append("status: " + ("OK" if not bench.problems else "FAILED\n  " + "\n  ".join(bench.problems)))
    return "\n".join(out)


def write_json(path: Path, bench: Bench, facts: dict, started: datetime) -> None:
    """The same run's figures, machine-readable, beside RESULTS.md."""
    a, b = bench.rate(bench.bare), bench.rate(bench.chassis)
    deployed.write_json(
        path,
        {
            "started": started.isoformat(),
            "mode": bench.p.mode,
            "params": asdict(bench.p),
            "hop": {
                "bare_events_per_s": [r.rate for r in bench.bare],
                "chassis_events_per_s": [r.rate for r in bench.chassis],
                "b_over_a": b / a if a and b else None,
                "stages": {s.name: s.rate for s in bench.stages},
            },
            "deployed": bench.deployed.as_dict() if bench.deployed else None,
            "growth": bench.growth.as_dict() if bench.growth else None,
            "machine": facts,
            "problems": bench.problems,
        },
    )


def interrupt_main_on(*signums) -> None:
    """Turn these signals into KeyboardInterrupt in the main greenlet, so its cleanup runs.

    Python raises in whatever greenlet happens to be running when a signal arrives (often the
    hub or a worker, where it would be swallowed); the hub throws it into the main one instead.
    """
    main = greenlet.getcurrent()

    def throw(signum, _frame):
        eventlet.hubs.get_hub().schedule_call_global(0, main.throw, KeyboardInterrupt(f"signal {signum}"))

    for signum in signums:
        signal.signal(signum, throw)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the tongban chassis and system; writes bench/RESULTS.md.")
    parser.add_argument("--quick", action="store_true", help="small N and a short end-to-end run (< 2 minutes)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--only",
        choices=("hops", "deployed", "growth"),
        help="one part (while developing; the results file says which)",
    )
    args = parser.parse_args(argv)

    configure_logging("WARNING")  # first call wins: before any service logs at the default level
    interrupt_main_on(signal.SIGTERM, signal.SIGINT)
    os.chdir(HERE.parent)

    params = Params.quick() if args.quick else Params.full()
    started, clock = datetime.now(UTC), time.monotonic()
    facts = machine_facts()
    bench = Bench(params)
    try:
        bench.run(args.only)
    except KeyboardInterrupt:
        bench.problems.append("interrupted")
    finally:
        bench.close()
    bench.collect_problems(args.only)

    tmp = args.output.with_name(f"results-{os.getpid()}.tmp")
    tmp.write_text(render(bench, facts, started, time.monotonic() - clock), encoding="utf-8")
    os.replace(tmp, args.output)
    write_json(args.output.with_suffix(".json"), bench, facts, started)
    print(summary(bench))
    print(f"written to {args.output}")
    return 0 if not bench.problems else 1


if __name__ == "__main__":
    sys.exit(main())
