"""The fault suite's steady load and its Jepsen-style ledger.

Load: one-matters offered at a fixed rate, alternating
- 结婚生育户口一件事 (marriage-birth-household): apply, register, the partners' steps, a birth, completed;
- 身后一件事 with revocation: a married elder's death reported by the police, revoked by the
  district bureau at once (the revocation may overtake the notice at any consumer), the matter
  revoked with every step reversed or not applicable and the marriage registered again;
plus one payment cycle of the old-age allowance (import elders, the enrolment job, freeze, bank
batch, bank results) in the middle of the run.

Every request carries an Idempotency-Key and is retried until it is answered (a killed gateway, a
broker node gone, a dropped database connection all look like a failed request to a citizen), so a
matter must complete however the system is broken meanwhile. At the end the ledger is balanced:
matters completed, steps reported twice, events lost or duplicated at each consumer and partner,
payments made twice, dead letters.
"""

from __future__ import annotations

import csv
import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import eventlet
import requests
from sqlalchemy import create_engine, text

from chassis.clock import LOCAL_ZONE, SystemClock, system_clock
from contracts.subscriptions import PARTNER_EXCHANGE, SUBSCRIPTIONS
from infra.processes import PROCESSES
from tests.system import ISSUER, person

DISTRICT, TOWNSHIP, VILLAGE = "330602", "330602001", "330602001001"
REGISTRAR = ("clerk", "registrar-01", DISTRICT)
APPROVER = ("clerk", "approver-01", DISTRICT)
POLICE = ("partner", "police")
HEALTH = ("partner", "health")
BANKS = ("partner", "banks")
ADMIN = ("admin", "ops")
BUREAU = ("clerk", "allowance-office", DISTRICT)
MATTER_PATIENCE = 600.0  # seconds a matter may take under faults before the run counts it as stuck
# whose database each consumer keeps its inbox in: its process's (progress, the partner feed and webhooks: the gateway's)
CONSUMER_DB = {process.queues_of: process.database for process in PROCESSES.values()}


class Stuck(Exception):
    pass


@dataclass
class Client:
    url: str
    session: requests.Session = field(default_factory=requests.Session)
    retries: int = 0
    # one patience for the whole matter, not for each of its requests and waits: a stuck matter of
    # six steps would otherwise hold the run for an hour before its row is written
    deadline: float = field(default_factory=lambda: time.monotonic() + MATTER_PATIENCE)

    def call(
        self,
        method: str,
        path: str,
        as_: tuple,
        json=None,
        key: str | None = None,
        ok=(200, 201, 202),
    ):
        """Until answered with one of `ok`; 5xx, 404 of a projection not there yet, 409 "still
        being handled" and transport failures are retried with the same Idempotency-Key. Any other
        answer fails the matter: a retry of a request whose first attempt took effect unseen (a
        503 whose RPC the service committed later) must get that attempt's answer, not a refusal."""
        role, subject, *area = as_
        from gateway.auth import issue_token

        headers = {"Authorization": f"Bearer {issue_token(ISSUER, subject, role, *area)}"}
        if key:
            headers["Idempotency-Key"] = key
        while True:
            try:
                response = self.session.request(method, self.url + path, json=json, headers=headers, timeout=30)
                if response.status_code in ok:
                    return response.json()
                if response.status_code < 500 and response.status_code not in (404, 409, 429):
                    raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
            except requests.RequestException:
                self.session = requests.Session()  # its connection may be to a gateway that died
            self.retries += 1
            if time.monotonic() > self.deadline:
                raise Stuck(f"{method} {path} unanswered within the matter's {MATTER_PATIENCE:g} s")
            eventlet.sleep(0.3)

    def until(self, predicate, what: str):
        while True:
            try:
                value = predicate()
            except (requests.RequestException, ValueError, KeyError):
                value = None
            if value:
                return value
            if time.monotonic() > self.deadline:
                raise Stuck(f"{what} not seen within the matter's {MATTER_PATIENCE:g} s")
            eventlet.sleep(0.3)


@dataclass
class Outcome:
    kind: str
    matter_id: str | None = None
    done: bool = False
    error: str | None = None


class Load:
    def __init__(self, url: str, rate: float, seed: int, clock: SystemClock = system_clock):
        self.url, self.rate, self.clock = url, rate, clock  # the system's clock: its dates are the services' dates
        self.seq = itertools.count(seed * 1000)
        self.outcomes: list[Outcome] = []
        self.pool = eventlet.GreenPool(200)
        self.payment: dict = {}
        self.clients: list[Client] = []
        self._stop = False
        self._generator = None

    # --- the matters ------------------------------------------------------------------------

    def marriage_birth(self, n: int, out: Outcome) -> None:
        client = Client(self.url)
        self.clients.append(client)
        husband = {"resident_id": person(date(1990, 1, 1) + timedelta(days=n % 3000), "male"), "name": "王刚"}
        wife = {"resident_id": person(date(1992, 1, 1) + timedelta(days=n % 3000), "female"), "name": "周敏"}
        citizen = ("citizen", husband["resident_id"])
        today = self.today()
        day = today + timedelta(days=3 + (n // 16) % 20)
        slot = datetime(day.year, day.month, day.day, 9 + (n % 16) // 2, 30 * (n % 2), tzinfo=LOCAL_ZONE)
        opened = client.call(
            "POST",
            "/api/v1/matters/marriage-birth-hukou",
            citizen,
            {"office_code": DISTRICT, "slot_start": slot.isoformat(), "party_a": husband, "party_b": wife},
            key=f"apply-{n}",
        )
        out.matter_id = matter_id = opened["matter_id"]
        client.call(
            "POST",
            "/api/v1/marriage/registrations",
            REGISTRAR,
            {
                "office_code": DISTRICT,
                "party_a": husband,
                "party_b": wife,
                "declared_not_close_relatives": True,
                "matter_id": matter_id,
            },
            key=f"register-{n}",
        )

        def state():
            return client.call("GET", f"/api/v1/matters/{matter_id}", citizen)["state"]

        client.until(lambda: state() == "waiting", "the health and police steps")
        client.call(
            "POST",
            "/api/v1/partner/births",
            HEALTH,
            {
                "child": {
                    "name": "王小满",
                    "birth_date": today.isoformat(),
                    "sex": "female",
                    "birth_certificate_number": f"O{n:010d}",
                },
                "mother_resident_id": wife["resident_id"],
                "father_resident_id": husband["resident_id"],
                "hospital": "市妇幼保健院",
                "matter_id": matter_id,
            },
            key=f"birth-{n}",
        )
        client.until(lambda: state() == "completed", "the newborn steps")
        out.done = True

    def death_revoked(self, n: int, out: Outcome) -> None:
        client = Client(self.url)
        self.clients.append(client)
        elder = person(date(1945, 1, 1) + timedelta(days=n % 3000), "male")
        spouse = person(date(1947, 1, 1) + timedelta(days=n % 3000), "female")
        client.call(
            "POST",
            "/api/v1/marriage/registrations",
            REGISTRAR,
            {
                "office_code": DISTRICT,
                "declared_not_close_relatives": True,
                "party_a": {"resident_id": elder, "name": "陈老伯"},
                "party_b": {"resident_id": spouse, "name": "林阿婆"},
            },
            key=f"elder-marriage-{n}",
        )
        died = self.today() - timedelta(days=2)
        case = client.call(
            "POST",
            "/api/v1/partner/deaths",
            POLICE,
            {
                "deceased": {"resident_id": elder, "name": "陈老伯"},
                "date_of_death": died.isoformat(),
                "region_code": TOWNSHIP,
                "reference": f"GA-{n}",
                "place_of_death": "绍兴市人民医院",
            },
            key=f"death-{n}",
        )
        out.matter_id = case["matter_id"]
        client.call(
            "POST",
            f"/api/v1/funeral/cases/{case['case_id']}/revocation",
            APPROVER,
            {"reason": "the hospital reported the wrong person"},
            key=f"revoke-{n}",
        )

        def revoked():
            view = client.call("GET", f"/api/v1/matters/{out.matter_id}", APPROVER)
            return view["state"] == "revoked" and all(
                s["state"] in ("reversed", "not_applicable") for s in view["steps"]
            )

        client.until(revoked, "every step reversed")
        client.until(
            lambda: client.call("GET", f"/api/v1/marriage/marital-status/{spouse}", REGISTRAR)["status"] == "married",
            "the marriage registered again",
        )
        out.done = True

    def payment_cycle(self, elders: int) -> None:
        """One month of the old-age allowance for `elders` people of 86, each paid once."""
        client = Client(self.url)
        self.clients.append(client)
        people = [
            {
                "resident_id": person(date(1940, 3, 3), "male" if i % 2 else "female", seq=i * 2 + (i % 2)),
                "name": f"老人{i}",
                "region_code": VILLAGE,
                "bank_account": f"62170000{i:011d}",
            }
            for i in range(elders)
        ]
        client.call("POST", "/api/v1/care/elders/import", ADMIN, {"people": people}, key="import-elders")
        client.call("POST", "/api/v1/care/allowance-job", ADMIN, key="allowance-job")
        month = self.today().replace(day=1)
        cycles = "/api/v1/care/allowance-payment-cycles"
        frozen = client.call(
            "POST", cycles, BUREAU, {"region_code": DISTRICT, "month": month.isoformat()}, key=f"freeze-{month}"
        )
        cycle = frozen["cycle_id"]
        batch = client.call("POST", f"{cycles}/{cycle}/bank-batch", BUREAU, key=f"batch-{cycle}")
        with open(batch["file"], newline="") as handle:
            results = [{"payment_id": int(line["payment_id"]), "status": "paid"} for line in csv.DictReader(handle)]
        client.call("POST", f"{cycles}/{cycle}/bank-results", BANKS, {"results": results}, key=f"results-{cycle}")
        paid = {}
        for p in people:
            own = client.call("GET", f"/api/v1/care/elders/{p['resident_id']}/allowance/payments", ADMIN)["payments"]
            paid[p["resident_id"]] = [(x["for_month"], x["amount_fen"], x["state"]) for x in own]
        self.payment = {"people": elders, "cycle": client.call("GET", f"{cycles}/{cycle}", BUREAU), "paid": paid}

    def today(self) -> date:
        return self.clock.now().astimezone(LOCAL_ZONE).date()

    # --- running it ---------------------------------------------------------------------------

    def _run(self, kind: str, n: int) -> None:
        out = Outcome(kind)
        self.outcomes.append(out)
        try:
            (self.marriage_birth if kind == "marriage-birth" else self.death_revoked)(n, out)
        except Exception as exc:
            out.error = repr(exc)

    def start(self, seconds: float, elders: int) -> None:
        def generate():
            started, offered = time.monotonic(), 0
            payment_at = started + seconds / 3
            paying = None
            while time.monotonic() - started < seconds and not self._stop:
                n = next(self.seq)
                self.pool.spawn_n(self._run, "marriage-birth" if offered % 2 == 0 else "death-revoked", n)
                offered += 1
                if paying is None and time.monotonic() >= payment_at:
                    paying = self.pool.spawn(self.payment_cycle, elders)
                eventlet.sleep(max(0.0, started + offered / self.rate - time.monotonic()))
            if paying is None:
                paying = self.pool.spawn(self.payment_cycle, elders)

        self._generator = eventlet.spawn(generate)

    def finish(self) -> None:
        self._generator.wait()
        self.pool.waitall()


# --- the ledger ------------------------------------------------------------------------------


def rows(url: str, sql: str, **params) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def ledger(bed, load: Load) -> dict:
    """Counts that must balance. Every 'lost' and 'twice' must be 0; dead letters must be none."""
    outcomes = load.outcomes
    stuck = [o for o in outcomes if not o.done]
    # events: every event published (sent) reached every consumer subscribed to its type (the inbox)
    published: dict[str, set[str]] = {}
    unsent = 0
    for url in bed.urls.values():
        for event_id, event_type, exchange, sent_at in rows(
            url, "SELECT event_id, event_type, exchange, sent_at FROM outbox"
        ):
            if sent_at is None:
                unsent += 1
            if exchange != PARTNER_EXCHANGE:
                published.setdefault(event_type, set()).add(event_id)
    lost_to_consumers: Counter = Counter()
    handled = 0
    for consumer, types in SUBSCRIPTIONS.items():
        database = CONSUMER_DB.get(consumer.split(".")[0], consumer.split(".")[0])
        inbox = {r[0] for r in rows(bed.urls[database], "SELECT event_id FROM inbox WHERE consumer = :c", c=consumer)}
        handled += len(inbox)
        for event_type in types:
            missing = published.get(event_type, set()) - inbox
            if missing:
                lost_to_consumers[f"{consumer}:{event_type}"] += len(missing)
    # partners: every filtered copy queued for a partner was acked by it; a copy acked twice was
    # delivered twice (absorbed by the step report's Idempotency-Key), never applied twice
    # (a copy keeps its event's id in the body; its message id is derived from it per partner)
    forwarded = {
        (routing_key.split(".", 1)[0], body["id"])
        for body, routing_key in rows(
            bed.urls["gateway"], "SELECT body, routing_key FROM outbox WHERE exchange = :x", x=PARTNER_EXCHANGE
        )
        if routing_key.split(".", 1)[0] in bed.by_amqp  # a webhook partner's queue has no reader: its own count below
    }
    acked = Counter((code, event_id) for code, _, event_id in bed.simulator.received)
    lost_to_partners = len(forwarded - set(acked))
    redelivered_to_partners = sum(count - 1 for count in acked.values() if count > 1)
    # steps: a step reaches each state once (applied), however often it was reported
    twice_steps = rows(
        bed.urls["gateway"],
        "SELECT matter_id, step, state, count(*) FROM step_report WHERE applied = 'yes' "
        "GROUP BY matter_id, step, state HAVING count(*) > 1",
    )
    births_twice = rows(
        bed.urls["gateway"], "SELECT matter_id, count(*) FROM birth_notice GROUP BY matter_id HAVING count(*) > 1"
    )
    marriages_twice = rows(
        bed.urls["marriage"],
        "SELECT party_a_id, party_b_id, count(*) FROM marriage GROUP BY party_a_id, party_b_id HAVING count(*) > 1",
    )
    # payments: each elder paid once for the month, at the cycle's amount
    paid = load.payment.get("paid", {})
    payments = sum(len(p) for p in paid.values())
    paid_twice = sum(1 for p in paid.values() if len(p) > 1)
    unpaid = sum(1 for p in paid.values() if [x[2] for x in p] != ["paid"])
    # dead letters: none left, or each one explained (a case lists what it expects)
    dead = {
        q["name"]: q.get("messages", 0)
        for vhost in (bed.vhost, bed.partner_vhost)  # the partners' queues dead-letter too
        for q in bed.queues(vhost)
        if q["name"].endswith(".dead") and q.get("messages")
    }
    # the webhook partner, where a case has one: every message of its endpoint delivered (answered
    # 2xx) and acted on by it once; a delivery of one it had acted on already was absorbed
    webhook: dict = {}
    if bed.endpoint is not None:
        messages = rows(
            bed.urls["gateway"],
            "SELECT webhook_id, state FROM webhook_message WHERE endpoint_id = :e",
            e=bed.endpoint.endpoint_id,
        )
        states = Counter(state for _, state in messages)
        delivered = {webhook_id for webhook_id, state in messages if state == "delivered"}
        webhook = {
            "messages": len(messages),
            "pending": states["pending"],
            "abandoned": states["abandoned"],
            "not_acted_on": len(delivered - bed.endpoint.handled),
            "refused_while_down": bed.endpoint.while_down,
            "redelivered": bed.endpoint.again,
        }
    # hourly jobs: one run per hour of the clock across every instance (chassis.lease)
    job_runs = {}
    for name in ("marriage", "care", "charity"):
        for job, runs, holder in rows(bed.urls[name], "SELECT job, runs, holder FROM job_leases"):
            job_runs[job] = (runs, holder)
    # what the progress view holds of each stuck matter: which step is not where the load waited
    stuck_views = {
        o.matter_id: {
            "revoked": bool(revoked),
            "steps": dict(
                rows(
                    bed.urls["gateway"],
                    "SELECT step, state FROM matter_step WHERE matter_id = :m ORDER BY position",
                    m=o.matter_id,
                )
            ),
        }
        for o in stuck[:3]
        if o.matter_id
        for (revoked,) in rows(
            bed.urls["gateway"], "SELECT revoked_at IS NOT NULL FROM matter WHERE id = :m", m=o.matter_id
        )
    }
    return {
        "matters": len(outcomes),
        "completed": len(outcomes) - len(stuck),
        "stuck": [(o.kind, o.matter_id, o.error) for o in stuck],
        "stuck_views": stuck_views,
        "events": sum(len(ids) for ids in published.values()),
        "handled": handled,
        "unsent": unsent,
        "lost_to_consumers": dict(lost_to_consumers),
        "partner_copies": len(forwarded),
        "lost_to_partners": lost_to_partners,
        "redelivered_to_partners": redelivered_to_partners,
        "steps_twice": len(twice_steps),
        "births_twice": len(births_twice),
        "marriages_twice": len(marriages_twice),
        "payments": payments,
        "payments_expected": load.payment.get("people", 0),
        "paid_twice": paid_twice,
        "unpaid": unpaid,
        "dead_letters": dead,
        "webhook": webhook,
        "job_runs": job_runs,
        "retries": sum(c.retries for c in load.clients),
    }


def in_flight(book: dict) -> bool:
    """Events still on their way once the load has finished: an outbox row not yet relayed, an
    event some consumer's inbox or some partner has not had yet. The ledger is read again until
    none is (or the patience is spent, and then they count as lost)."""
    return bool(
        book["unsent"] or book["lost_to_consumers"] or book["lost_to_partners"] or book["webhook"].get("pending")
    )


def assert_balanced(
    book: dict, started_hour: datetime, now: datetime, explained_dead_letters: frozenset = frozenset()
) -> None:
    """`started_hour` and `now` on the system's clock (moved or not)."""
    assert book["stuck"] == [], book["stuck"][:5]
    assert book["unsent"] == 0
    assert book["lost_to_consumers"] == {}
    assert book["lost_to_partners"] == 0
    assert (book["steps_twice"], book["births_twice"], book["marriages_twice"]) == (0, 0, 0)
    assert book["payments"] == book["payments_expected"] > 0
    assert (book["paid_twice"], book["unpaid"]) == (0, 0)
    assert set(book["dead_letters"]) <= explained_dead_letters, book["dead_letters"]
    if book["webhook"]:
        assert (book["webhook"]["pending"], book["webhook"]["abandoned"], book["webhook"]["not_acted_on"]) == (0, 0, 0)
    hours = int((now - started_hour).total_seconds() // 3600) + 1  # a moved hour is a new lease period
    for job, (runs, _) in book["job_runs"].items():
        assert 1 <= runs <= hours, (job, runs, hours)  # once an hour across every instance


def new_key() -> str:
    return str(uuid.uuid4())
