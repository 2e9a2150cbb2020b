"""The chassis guarantees, proved against the real broker and PostgreSQL."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection, Exchange, Producer
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, func, select, text, update

from chassis.tables import command_log, inbox, outbox
from chassis.topology import EVENTS_EXCHANGE
from tests.helpers import get_messages, queue_depth, wait_for
from tests.integration import probe

QUEUE = "probe_consumer.on_probe"

# the chassis's guarantees are proved on the queues production runs: quorum queues
pytestmark = pytest.mark.quorum


@pytest.fixture
def probes(make_database, base_config, start_service):
    probe.register_contract()
    probe.FAILURES.clear()
    urls = {"prober": make_database("prober"), "consumer": make_database("consumer")}
    for url in urls.values():
        probe.create_schema(url)
    engines = {k: create_engine(v) for k, v in urls.items()}

    def start(prober=True, consumer=True, **overrides):
        if consumer:
            start_service(probe.ProbeConsumer, {**base_config, "DATABASE_URL": urls["consumer"], **overrides})
        if prober:
            start_service(probe.Prober, {**base_config, "DATABASE_URL": urls["prober"], **overrides})

    yield start, urls, engines
    for engine in engines.values():
        engine.dispose()
    probe.unregister_contract()


def count(engine, table_or_sql):
    with engine.connect() as conn:
        if isinstance(table_or_sql, str):
            return conn.execute(text(table_or_sql)).scalar()
        return conn.execute(select(func.count()).select_from(table_or_sql)).scalar()


def effects(engine, n):
    return count(engine, f"SELECT count(*) FROM effect WHERE n = {n}")


def publish_raw(amqp_uri, body: dict, routing_key="probe.happened"):
    with Connection(amqp_uri) as conn:
        Producer(conn.channel()).publish(
            body, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key=routing_key, serializer="json"
        )


def envelope(n, **overrides):
    body = {
        "id": str(uuid.uuid4()),
        "type": "probe.happened",
        "source": "prober",
        "time": datetime.now(UTC).isoformat(),
        "subject": f"thing-{n}",
        "matter_id": None,
        "correlation_id": None,
        "causation_id": None,
        "schema_version": 1,
        "data": {"n": n, "fail_times": 0},
    }
    body.update(overrides)
    return body


def test_state_change_and_event_commit_together(probes, amqp_uri):
    start, urls, engines = probes
    start()
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as cluster:
        assert cluster.prober.happen(1) == 1
        with pytest.raises(RemoteError, match="RuntimeError"):
            cluster.prober.happen(2, roll_back=True)
    wait_for(lambda: effects(engines["consumer"], 1) == 1, what="the event's effect")
    wait_for(lambda: count(engines["prober"], "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0)
    # the rolled-back change left neither state nor a ghost event behind
    assert count(engines["prober"], "SELECT count(*) FROM thing WHERE n = 2") == 0
    assert count(engines["prober"], outbox) == 1
    assert effects(engines["consumer"], 2) == 0


def test_event_survives_kill_9_between_commit_and_publish(probes, amqp_uri):
    start, urls, engines = probes
    start(prober=False)
    # A real process commits the state change and its event, and is killed before any relay runs.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.probe", "commit", urls["prober"], amqp_uri, "7"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        assert proc.stdout.readline().strip() == "committed"
    finally:
        proc.kill()  # SIGKILL
        proc.wait(timeout=10)
    assert count(engines["prober"], "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1
    assert effects(engines["consumer"], 7) == 0

    start(consumer=False)  # the service comes back; its relay finds the unsent row
    wait_for(lambda: effects(engines["consumer"], 7) == 1, what="the event after restart")

    # A crash after publishing but before marking the row sent: the row goes out again, and the
    # consumer's inbox keeps the effect single.
    with engines["prober"].begin() as conn:
        conn.execute(update(outbox).values(sent_at=None))
    wait_for(lambda: count(engines["prober"], "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0)
    wait_for(lambda: queue_depth(amqp_uri, QUEUE) == 0)
    assert effects(engines["consumer"], 7) == 1
    assert count(engines["consumer"], inbox) == 1


def test_command_redelivered_after_a_crash_runs_once(probes, amqp_uri):
    """The broker delivers an RPC request again when its worker died after committing but before
    acking; the command log answers it with the first reply instead of running it twice."""
    start, urls, engines = probes
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.probe", "serve-and-die", urls["prober"], amqp_uri],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
        try:
            assert proc.stdout.readline().strip() == "serving"
            reply = cluster.prober.happen.call_async(9)
            assert proc.stdout.readline().strip() == "committed"
        finally:
            proc.kill()  # SIGKILL: the request is unacked, the broker gives it to the next prober
            proc.wait(timeout=10)
        assert count(engines["prober"], "SELECT count(*) FROM thing WHERE n = 9") == 1
        start(consumer=False)
        assert reply.result() == 9  # answered, from the log
    assert count(engines["prober"], "SELECT count(*) FROM thing WHERE n = 9") == 1
    assert count(engines["prober"], outbox) == 1
    assert count(engines["prober"], "SELECT count(*) FROM command_log WHERE entrypoint = 'prober.happen'") == 1


def test_only_commands_are_logged_and_old_replies_are_forgotten(probes, amqp_uri):
    start, urls, engines = probes
    with engines["prober"].begin() as conn:  # a reply from long ago
        conn.execute(
            command_log.insert().values(
                request_id="old",
                entrypoint="prober.happen",
                reply="1",
                handled_at=datetime.now(UTC) - timedelta(days=8),
            )
        )
    start(consumer=False)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as cluster:
        assert cluster.prober.things() == 0
        assert count(engines["prober"], command_log) == 1  # a query leaves no row
        assert cluster.prober.happen(12) == 12
        assert cluster.prober.things() == 1
    with engines["prober"].connect() as conn:
        assert conn.execute(
            select(command_log.c.entrypoint, command_log.c.reply).where(command_log.c.request_id != "old")
        ).all() == [("prober.happen", "12")]
    assert count(engines["prober"], "SELECT count(*) FROM command_log WHERE request_id = 'old'") == 0


def test_two_requests_racing_for_one_key_give_the_loser_409(probes, amqp_uri):
    start, urls, engines = probes
    start(consumer=False)
    key = "11010519491231002X"
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as cluster:
        # each holds its insert open a while, so whichever flushes second waits on the other's key
        replies = [cluster.prober.claim.call_async(key, linger=0.5) for _ in range(2)]
        won, lost = [], []
        for reply in replies:
            try:
                won.append(reply.result())
            except Exception as exc:
                lost.append(exc)
    assert won == [key] and len(lost) == 1
    problem = lost[0]
    assert (problem.status, problem.errors) == (409, {"key": ["already recorded"]})
    assert key not in str(problem)  # the value is not told back
    assert count(engines["prober"], "SELECT count(*) FROM claim") == 1


def test_duplicated_event_has_one_effect(probes, amqp_uri):
    start, urls, engines = probes
    start(prober=False)
    body = envelope(11)
    for _ in range(3):
        publish_raw(amqp_uri, body)
    wait_for(lambda: effects(engines["consumer"], 11) == 1)
    wait_for(lambda: queue_depth(amqp_uri, QUEUE) == 0)
    assert effects(engines["consumer"], 11) == 1
    assert count(engines["consumer"], inbox) == 1


def test_transient_failure_is_retried_with_effect_once(probes, amqp_uri):
    start, urls, engines = probes
    start(prober=False)
    publish_raw(amqp_uri, envelope(21, data={"n": 21, "fail_times": 2}))
    wait_for(lambda: effects(engines["consumer"], 21) == 1, what="success on the third attempt")
    assert probe.FAILURES[21] == 2
    assert queue_depth(amqp_uri, f"{QUEUE}.dead") == 0


def test_failing_handler_is_dead_lettered_after_bounded_retries(probes, amqp_uri):
    start, urls, engines = probes
    start(prober=False)
    body = envelope(31, data={"n": 31, "fail_times": 99})
    publish_raw(amqp_uri, body)
    wait_for(lambda: queue_depth(amqp_uri, f"{QUEUE}.dead") == 1, what="the dead letter")
    [(headers, dead)] = get_messages(amqp_uri, f"{QUEUE}.dead")
    assert dead["id"] == body["id"]
    assert headers["x-tongban-reason"] == "handler_failed"
    assert headers["x-tongban-attempts"] == 3  # first try + the two configured retries
    assert "probe 31 fails" in headers["x-tongban-error"]
    assert probe.FAILURES[31] == 3
    # nothing of the failed attempts stuck, and nothing loops
    assert effects(engines["consumer"], 31) == 0
    assert count(engines["consumer"], inbox) == 0
    assert queue_depth(amqp_uri, QUEUE) == 0
    assert queue_depth(amqp_uri, f"{QUEUE}.retry.50ms") == queue_depth(amqp_uri, f"{QUEUE}.retry.100ms") == 0

    # operations fix the cause and replay the dead letter: handled once, queue drained
    from chassis.deadletters import parked, replay

    publish_raw(amqp_uri, body)  # park it again (we consumed the first copy above)
    wait_for(lambda: queue_depth(amqp_uri, f"{QUEUE}.dead") == 1, what="the dead letter again")
    assert [p["reason"] for p in parked(amqp_uri, QUEUE)] == ["handler_failed"]
    probe.FAILURES[31] = 99  # the "fix": the probe no longer fails (fail_times 99 reached)
    assert replay(amqp_uri, QUEUE) == 1
    wait_for(lambda: effects(engines["consumer"], 31) == 1, what="the replayed event's effect")
    assert queue_depth(amqp_uri, f"{QUEUE}.dead") == 0


def test_a_batch_with_a_failing_event_is_handled_alone_each(probes, amqp_uri):
    """Deliveries that arrive together share one worker and one transaction; a failure rolls the
    batch back and each event is handled alone: the others take effect once, the bad one is
    retried and parked by itself, and each recorded event names its own cause."""
    from chassis.metrics import CALLS
    from chassis.topology import declare_consumer

    start, urls, engines = probes
    declare_consumer(amqp_uri, QUEUE, ("probe.happened",), (50, 100))  # as the consumer will
    good = [envelope(n, data={"n": n, "fail_times": 0, "echo": True}) for n in range(100, 130)]
    bad = envelope(130, data={"n": 130, "fail_times": 99})
    for body in good[:15] + [bad] + good[15:] + [good[3], good[20]]:  # two duplicates too
        publish_raw(amqp_uri, body)
    replayed = CALLS.labels("probe_consumer", "on_probe", "event", "replayed")
    replayed_before = replayed._value.get()

    start(prober=False, OUTBOX_RELAY=False)  # the queue is full: the first deliveries come together
    wait_for(lambda: queue_depth(amqp_uri, f"{QUEUE}.dead") == 1, what="the bad event parked")
    wait_for(lambda: count(engines["consumer"], "SELECT count(*) FROM effect") == 30, what="the good effects")
    assert replayed._value.get() > replayed_before, "no batch was rolled back and replayed"
    assert count(engines["consumer"], "SELECT count(DISTINCT n) FROM effect WHERE n < 130") == 30
    assert effects(engines["consumer"], 130) == 0
    assert count(engines["consumer"], inbox) == 30
    # once in its batch, then alone: a first try and the two configured retries
    assert probe.FAILURES[130] == 4
    [(headers, dead)] = get_messages(amqp_uri, f"{QUEUE}.dead")
    assert (dead["id"], headers["x-tongban-attempts"]) == (bad["id"], 3)
    with engines["consumer"].connect() as conn:
        echoes = [body for (body,) in conn.execute(select(outbox.c.body))]
    assert len(echoes) == 30
    assert {echo["data"]["n"]: echo["causation_id"] for echo in echoes} == {
        cause["data"]["n"]: cause["id"] for cause in good
    }


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"data": {"fail_times": 0}}, "n"),
        ({"source": "somebody-else"}, "source"),
        ({"id": "not-a-uuid"}, "id"),
        ({"schema_version": 9}, "schema_version"),
    ],
    ids=["data-missing-field", "wrong-publisher", "bad-id", "unknown-version"],
)
def test_invalid_event_is_dead_lettered_with_its_reason(probes, amqp_uri, bad, field):
    start, urls, engines = probes
    start(prober=False)
    publish_raw(amqp_uri, envelope(41, **bad))
    wait_for(lambda: queue_depth(amqp_uri, f"{QUEUE}.dead") == 1, what="the dead letter")
    [(headers, _)] = get_messages(amqp_uri, f"{QUEUE}.dead")
    assert headers["x-tongban-reason"] == "invalid_event"
    assert field in headers["x-tongban-error"]
    assert effects(engines["consumer"], 41) == 0


def test_undecodable_message_is_dead_lettered_not_lost(probes, amqp_uri):
    start, urls, engines = probes
    start(prober=False)
    with Connection(amqp_uri) as conn:
        Producer(conn.channel()).publish(
            b"{not json",
            exchange=Exchange(EVENTS_EXCHANGE, type="topic"),
            routing_key="probe.happened",
            content_type="application/json",
            content_encoding="utf-8",
        )
    wait_for(lambda: queue_depth(amqp_uri, f"{QUEUE}.dead") == 1, what="the undecodable message parked")
    headers = _dead_headers(amqp_uri)
    assert headers["x-tongban-reason"] == "undecodable"
    assert "Decode" in headers["x-tongban-error"] or "JSON" in headers["x-tongban-error"]
    assert queue_depth(amqp_uri, QUEUE) == 0


def _dead_headers(amqp_uri):
    with Connection(amqp_uri) as conn:
        message = conn.channel().basic_get(f"{QUEUE}.dead", no_ack=True)
    return dict(message.headers)


def test_unroutable_event_stays_in_the_outbox(probes, amqp_uri):
    start, urls, engines = probes
    start(consumer=False)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as cluster:
        cluster.prober.happen(51, event_type="probe.unheard")
    wait_for(
        lambda: count(engines["prober"], "SELECT count(*) FROM outbox WHERE attempts > 0") == 1,
        what="the relay to record the refusal",
    )
    with engines["prober"].connect() as conn:
        row = conn.execute(
            select(outbox.c.sent_at, outbox.c.last_error, outbox.c.attempts, outbox.c.next_attempt_at)
        ).one()
    assert row.sent_at is None
    assert "unroutable" in row.last_error
    # kept, and tried again later with a growing pause, not in a tight loop
    assert row.next_attempt_at is not None
    import time

    time.sleep(1.5)
    with engines["prober"].connect() as conn:
        attempts = conn.execute(select(outbox.c.attempts)).scalar()
    assert attempts <= 3
