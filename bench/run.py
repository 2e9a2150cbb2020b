"""tongban benchmark: `python -m bench.run [--quick]` measures, writes bench/RESULTS.md, prints a summary.

What is measured (everything in this one process, on this machine's RabbitMQ and PostgreSQL, on
scratch vhosts and databases that are deleted at the end, even on failure):

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
    b/a >= 0.5. A staged re-run (commit with the relay off, then relay the backlog, then consume
    it) shows each stage's own rate and CPU cost.
(c) end to end: the whole system (marriage, gateway, progress, partner feed, partner simulator)
    on the real clock; matters of 结婚生育户口一件事 are offered open-loop at a fixed rate; per
    matter a citizen applies, a clerk registers, the citizen polls until the matter is "waiting".
    p50/p95/p99 of first POST → "waiting" and of each POST, achieved rates, and errors (any
    non-2xx answer, a failed request or a timeout; must be 0).

(a) and (b) run in `rounds` interleaved rounds (a, b, a, b, …) on fresh vhosts and databases, and
the median is reported with every round's figure, so a burst of other work on the machine shows
up rather than being hidden. CPU seconds are read from /proc for this process, PostgreSQL and
RabbitMQ over each measured window.

Exit status: 0 when every measurement ran and passed its checks (e2e errors = 0); 1 otherwise.
Missing the b/a target is reported, not turned into a failure.
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

from bench import e2e, hops  # noqa: E402
from bench.machine import CpuUse, machine_facts  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from infra.scratch import Scratch  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 0.5


@dataclass(frozen=True)
class Params:
    mode: str
    events: int  # N, for (a) and (b)
    warmup_events: int  # handled before each timed run of (a) and (b), not counted
    concurrency: int  # producer calls in flight
    max_workers: int  # nameko worker pool of every service (and so bare nameko's prefetch)
    rounds: int
    stage_events: int  # facts in the staged re-run of (b)
    e2e_rate: float  # matters offered per second
    e2e_seconds: float
    e2e_poll: float  # seconds between two GETs of a matter
    e2e_warmup: int  # matters run one by one before the timed run, not counted

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
            e2e_rate=2.0,
            e2e_seconds=30,
            e2e_poll=0.05,
            e2e_warmup=3,
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
            e2e_rate=2.0,
            e2e_seconds=10,
            e2e_poll=0.05,
            e2e_warmup=2,
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
        self.e2e: e2e.E2EResult | None = None
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

    def run_e2e(self):
        self.e2e = e2e.measure_e2e(
            self.scratch.vhost("e2e"),
            self.scratch.database("marriage"),
            self.scratch.database("gateway"),
            self.p.e2e_rate,
            self.p.e2e_seconds,
            self.p.e2e_poll,
            self.p.e2e_warmup,
            self.containers,
            self.scratch.vhost("e2e-partners"),
        )

    def run(self):
        for k in range(1, self.p.rounds + 1):
            self._phase(f"(a) bare nameko hop, round {k}/{self.p.rounds}", lambda k=k: self.run_bare(k))
            self._phase(f"(b) chassis hop, round {k}/{self.p.rounds}", lambda k=k: self.run_chassis(k))
        self._phase("(b) chassis hop, one stage at a time", self.run_stages)
        self._phase("(c) marriage one-matter end to end", self.run_e2e)

    def close(self):
        self._stop_services()
        for failure in self.scratch.close():
            self.problems.append(f"cleanup: {failure}")

    # --- verdicts --------------------------------------------------------------------------------

    def rate(self, results) -> float | None:
        rates = [r.rate for r in results if r.rate and not r.failures]
        return statistics.median(rates) if len(rates) == len(results) and rates else None

    def collect_problems(self):
        for r in self.bare + self.chassis:
            self.problems += [f"{r.name}: {f}" for f in r.failures]
        if len(self.bare) < self.p.rounds or len(self.chassis) < self.p.rounds:
            self.problems.append("not every round of (a)/(b) produced a result")
        self.problems += [f"stages: {f}" for f in self.stage_failures]
        if self.e2e is None:
            self.problems.append("(c) produced no result")
        else:
            self.problems += [f"(c): {f}" for f in self.e2e.failures]
            if self.e2e.errors:
                self.problems.append(f"(c): {len(self.e2e.errors)} error(s), e.g. {self.e2e.errors[0]}")
            if len(self.e2e.done()) != self.e2e.offered:
                self.problems.append(f"(c): {len(self.e2e.done())} of {self.e2e.offered} matters reached 'waiting'")


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
    c = bench.e2e
    if c is not None:
        lines += [
            f'| (c) first POST → matter "waiting", p50 / p95 / p99 | **{_f(c.pct("waiting_s", 50))} / '
            f"{_f(c.pct('waiting_s', 95))} / {_f(c.pct('waiting_s', 99))} ms** ({len(c.done())} matters) |",
            f"| (c) offered / achieved start rate / completion rate | {p.e2e_rate:g} / "
            f"{_f(c.achieved_start_rate, '{:.2f}')} / {_f(c.completion_rate, '{:.2f}')} matters/s |",
            f"| (c) errors (non-2xx, failed requests, timeouts) | **{len(c.errors)}** |",
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

    if c is not None:
        lines += [
            "",
            "## (c) latency detail",
            "",
            "| latency | p50 ms | p95 ms | p99 ms | max ms |",
            "| --- | --- | --- | --- | --- |",
        ]
        for label, attr in (
            ('first POST → "waiting"', "waiting_s"),
            ("POST /api/v1/matters/marriage-birth-hukou", "apply_s"),
            ("POST /api/v1/marriage/registrations", "register_s"),
        ):
            lines.append(
                f"| {label} | {_f(c.pct(attr, 50))} | {_f(c.pct(attr, 95))} | {_f(c.pct(attr, 99))} "
                f"| {_f(c.pct(attr, 100))} |"
            )
        polls = [t.polls for t in c.timings]
        lines += [
            "",
            f'{c.offered} matters offered over {p.e2e_seconds:g} s; {len(c.done())} reached "waiting"; '
            f"GETs per matter: median {_f(statistics.median(polls) if polls else None)}; "
            f"dead letters afterwards: {c.dead_letters}. Percentiles are nearest-rank: with fewer than 100 "
            'samples p99 is the highest value. "waiting" is seen at the polling interval '
            f"({1000 * p.e2e_poll:.0f} ms), so that latency reads up to one interval late.",
        ]
        if c.cpu:
            cpu = c.cpu
            lines += [
                "",
                f"During (c) this process used {100 * cpu.bench_process / cpu.wall:.0f} % of one core, "
                f"the machine {cpu.machine / cpu.wall:.2f} cores.",
            ]
        if c.errors:
            lines += ["", "Errors:", ""] + [f"- {e}" for e in c.errors[:20]]

    lines += ["", "## Parameters", "", "| parameter | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in asdict(p).items()]
    lines += [
        "| (a)/(b) drive | in-process `Trigger` entrypoint (bench/hops.py), one worker per event, "
        "`concurrency` green threads, a warm-up before each timed run |",
        "| (a)/(b) layout | producer and consumer services in this one process, each a nameko container |",
        "| (b) event | `bench.fact_recorded` (data `{n}`), consumer queue `bench_consumer.on_fact` (a quorum "
        "queue, as the chassis declares every consumer queue) |",
        "| (c) couples | distinct valid resident IDs (men born 1985+, women 1992+), one couple per 30-minute "
        f"slot per office, offices {', '.join(e2e.OFFICES)}, slots from {e2e.FIRST_DAY_AHEAD} days ahead |",
        "| (c) clients | `requests`, POSTs with an Idempotency-Key, clerk token scoped to the office; the "
        "partner simulator answers as health and police |",
        "| services' config | `max_workers` above, `LOG_LEVEL` WARNING, default retry delays, real clock |",
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
    if bench.e2e is not None:
        windows.append(("(c)", bench.e2e.cpu))
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
    c = bench.e2e
    if c is not None:
        out.append(
            f"(c) first POST -> waiting p50/p95/p99: {_f(c.pct('waiting_s', 50))}/{_f(c.pct('waiting_s', 95))}/"
            f"{_f(c.pct('waiting_s', 99))} ms; apply p50 {_f(c.pct('apply_s', 50))} ms, register p50 "
            f"{_f(c.pct('register_s', 50))} ms; achieved {_f(c.achieved_start_rate, '{:.2f}')} matters/s; "
            f"errors {len(c.errors)}"
        )
    busy = contention(bench)
    if busy:
        out.append("note: other work on the machine (cores) during " + "; ".join(busy))
    out.append("status: " + ("OK" if not bench.problems else "FAILED\n  " + "\n  ".join(bench.problems)))
    return "\n".join(out)


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
    args = parser.parse_args(argv)

    configure_logging("WARNING")  # first call wins: before any service logs at the default level
    interrupt_main_on(signal.SIGTERM, signal.SIGINT)
    os.chdir(HERE.parent)

    params = Params.quick() if args.quick else Params.full()
    started, clock = datetime.now(UTC), time.monotonic()
    facts = machine_facts()
    bench = Bench(params)
    try:
        bench.run()
    except KeyboardInterrupt:
        bench.problems.append("interrupted")
    finally:
        bench.close()
    bench.collect_problems()

    tmp = args.output.with_name(f"results-{os.getpid()}.tmp")
    tmp.write_text(render(bench, facts, started, time.monotonic() - clock), encoding="utf-8")
    os.replace(tmp, args.output)
    print(summary(bench))
    print(f"written to {args.output}")
    return 0 if not bench.problems else 1


if __name__ == "__main__":
    sys.exit(main())
