"""Scale-out benchmark: `python -m bench.scale` — one-matter throughput and p99 with 1, 2 and 3
instances of every process, on a three-node broker cluster and on one node, in one run.

For each (nodes, instances) the whole system is started as real processes (the fault suite's bed,
tests/faults/bed.py: the suite's own scratch PostgreSQL, a private RabbitMQ cluster, quorum queues,
every process reaching the broker through one TCP proxy); 结婚生育户口一件事 matters are offered
open-loop at a fixed rate for a fixed time (apply, register, the partners' steps, a birth,
completed: tests/faults/load.py); reported: matters completed per second (completed / from the
first offer to the last completion) and p50/p99 of a matter's latency (first POST to completed).
Results are appended to bench/SCALE.md with the date and the load.

    python -m bench.scale [--rate 1.0] [--seconds 60] [--instances 1,2,3] [--nodes 3,1]

The clusters are private: three nodes on $TONGBAN_FAULTS_RABBIT_PORT (default 5745) and one on that
+ 5; PostgreSQL on $TONGBAN_FAULTS_PG_PORT (default 5447); HTTP from $TONGBAN_BENCH_HTTP_BASE (8600).
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ["TONGBAN_QUEUE_TYPE"] = "quorum"

from chassis.clock import LOCAL_ZONE  # noqa: E402
from infra import rabbit_nodes  # noqa: E402
from tests.faults.bed import Bed, ScratchPostgres  # noqa: E402
from tests.faults.load import Load, Outcome  # noqa: E402
from tests.faults.proxy import TcpProxy  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "SCALE.md"


def measure(bed: Bed, rate: float, seconds: float, label: str) -> dict:
    bed.start_system(label, int(os.environ.get("TONGBAN_BENCH_HTTP_BASE", "8600")))
    try:
        load = Load(bed.url, rate, seed=7)
        started: dict[int, float] = {}
        finished: dict[int, float] = {}

        def timed(n: int) -> None:
            out = Outcome("marriage-birth")
            load.outcomes.append(out)
            started[n] = time.monotonic()
            try:
                load.marriage_birth(n, out)
                finished[n] = time.monotonic()
            except Exception as exc:
                out.error = repr(exc)

        begin = time.monotonic()
        offered = 0
        while time.monotonic() - begin < seconds:
            load.pool.spawn_n(timed, offered)
            offered += 1
            eventlet.sleep(max(0.0, begin + offered / rate - time.monotonic()))
        load.pool.waitall()
        latencies = sorted(finished[n] - started[n] for n in finished)
        span = max(finished.values()) - begin if finished else float("nan")
        return {
            "offered": offered,
            "completed": len(finished),
            "errors": offered - len(finished),
            "throughput": len(finished) / span if finished else 0.0,
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan"),
        }
    finally:
        bed.stop_system()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1.0, help="matters offered per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--instances", default="1,2,3")
    parser.add_argument("--nodes", default="3,1")
    args = parser.parse_args(argv)
    base = int(os.environ.get("TONGBAN_FAULTS_RABBIT_PORT", "5745"))
    pg = ScratchPostgres(int(os.environ.get("TONGBAN_FAULTS_PG_PORT", "5447")), Path("/tmp/tongban-bench-pg/db"))
    pg.start()
    rows = []
    try:
        for count in (int(n) for n in args.nodes.split(",")):
            name = f"bench{count}"
            nodes = rabbit_nodes.start(name, count, base if count == 3 else base + 5)
            try:
                for instances in (int(i) for i in args.instances.split(",")):
                    bed = Bed(instances=instances, nodes=nodes, pg=pg)
                    bed.broker = TcpProxy([("127.0.0.1", n.amqp_port) for n in nodes])
                    try:
                        result = measure(bed, args.rate, args.seconds, f"bench_{count}n_{instances}i")
                    finally:
                        bed.broker.close()
                    rows.append((count, instances, result))
                    print(f"{count} node(s), {instances} instance(s): {result}", flush=True)
            finally:
                rabbit_nodes.stop(name)
    finally:
        pg.stop()
    when = datetime.now(LOCAL_ZONE).isoformat(timespec="minutes")
    lines = [
        f"\n## {when}: {args.rate:g} matters/s offered for {args.seconds:g} s (结婚生育户口一件事), quorum queues\n",
        "| broker nodes | instances per process | offered | completed | errors | matters/s | p50 s | p99 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for count, instances, r in rows:
        lines.append(
            f"| {count} | {instances} | {r['offered']} | {r['completed']} | {r['errors']} | "
            f"{r['throughput']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} |"
        )
    if not RESULTS.exists():
        RESULTS.write_text("# Scale-out benchmark (python -m bench.scale)\n")
    with open(RESULTS, "a") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["errors"] == 0 for _, _, r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
