"""One person's events in order with N consumers: three marriage instances compete for
`marriage.on_death`, so a death's notice, its revocation and its date corrections may be handled
by different instances at the same moment and in any order. What holds them is the case's record
(locked per case, a tombstone for a revocation that overtakes its notice, a revision number for
corrections), not the queue's order. Twenty couples each get a notice and its revocation back to
back, twenty more a notice and two corrections: every marriage ends as the last event says."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from kombu import Connection, Exchange, Producer
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from chassis.migrations import upgrade
from chassis.topology import EVENTS_EXCHANGE
from contracts.person import compose_resident_id
from services.marriage.service import MarriageService
from tests.helpers import wait_for

DISTRICT, TOWNSHIP = "330602", "330602001"
REGISTRAR = {"id": "r", "role": "clerk", "area": DISTRICT}
COUPLES = 20


def envelope(event_type: str, data: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": "funeral",
        "time": "2026-06-10T02:00:00+00:00",
        "subject": f"death-case-{data['case_id']}",
        "matter_id": None,
        "correlation_id": None,
        "causation_id": None,
        "schema_version": 1,
        "data": data,
    }


def test_a_persons_events_hold_their_order_with_three_consumers(
    make_database, base_config, start_service, manual_clock, amqp_uri
):
    url = make_database("marriage")
    upgrade("services/marriage", url)
    config = {**base_config, "DATABASE_URL": url, "E_CERTIFICATE_KEY": "test-e-certificate-signing-key"}
    for _ in range(3):
        start_service(MarriageService, config)
    manual_clock.set_local_date(date(2026, 5, 1))
    engine = create_engine(url)
    revoked, corrected = [], []
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        for i in range(2 * COUPLES):
            husband = compose_resident_id(DISTRICT, date(1940, 1, 1) + timedelta(days=i), 11)
            wife = compose_resident_id(DISTRICT, date(1942, 1, 1) + timedelta(days=i), 22)
            proxy.marriage.register_marriage(
                REGISTRAR,
                {
                    "office_code": DISTRICT,
                    "declared_not_close_relatives": True,
                    "party_a": {"resident_id": husband, "name": "甲"},
                    "party_b": {"resident_id": wife, "name": "乙"},
                },
            )
            (revoked if i < COUPLES else corrected).append((str(uuid.uuid4()), husband, wife))
    manual_clock.set_local_date(date(2026, 6, 10))
    messages = []
    for case_id, husband, _ in revoked:
        notice = {
            "case_id": case_id,
            "resident_id": husband,
            "name": "甲",
            "date_of_death": "2026-05-20",
            "region_code": TOWNSHIP,
            "source": "hospital",
        }
        messages += [
            envelope("death.notified", notice),
            envelope(
                "death.revoked",
                {
                    "case_id": case_id,
                    "resident_id": husband,
                    "date_of_death": "2026-05-20",
                    "reason": "the wrong person",
                },
            ),
        ]
    for case_id, husband, _ in corrected:
        notice = {
            "case_id": case_id,
            "resident_id": husband,
            "name": "甲",
            "date_of_death": "2026-05-20",
            "region_code": TOWNSHIP,
            "source": "hospital",
        }
        messages.append(envelope("death.notified", notice))
        for revision, (before, after) in enumerate((("2026-05-20", "2026-05-22"), ("2026-05-22", "2026-05-24")), 1):
            messages.append(
                envelope(
                    "death.date_corrected",
                    {
                        "case_id": case_id,
                        "resident_id": husband,
                        "date_of_death": after,
                        "previous_date_of_death": before,
                        "reason": "confirmed",
                        "revision": revision,
                    },
                )
            )
    with Connection(amqp_uri) as conn:  # one channel, in order: the consumers may still take them apart
        producer = Producer(conn.channel())
        for body in messages:
            producer.publish(
                body, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key=body["type"], serializer="json"
            )

    def handled() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM inbox WHERE consumer = 'marriage.on_death'")).scalar()

    wait_for(lambda: handled() == len(messages), what="every event handled by one of the three instances")
    with engine.connect() as conn:
        marriages = {
            (row.party_a_id): (row.state, row.ended_on)
            for row in conn.execute(text("SELECT party_a_id, state, ended_on FROM marriage"))
        }
        records = dict(conn.execute(text("SELECT case_id, state FROM death_record")).all())
    for case_id, husband, _ in revoked:  # notice then revocation: as if nothing had happened
        assert marriages[husband] == ("registered", None), (husband, marriages[husband])
        assert records[case_id] in ("reversed", "revoked")
    for case_id, husband, _ in corrected:  # the last correction's date, whatever order they came in
        assert marriages[husband] == ("ended_by_death", date(2026, 5, 24)), (husband, marriages[husband])
        assert records[case_id] == "applied"
    engine.dispose()
