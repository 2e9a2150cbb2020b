"""身后一件事 in care and in assistance, each service on its own against the real broker and
PostgreSQL, for what the end-to-end walk does not reach: an institution bed freed and given back,
a family care bed, a child whose caregiver died; a one-person 低保 household whose benefit ends
with the death, so everything paid for later months is the overpayment."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime

import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from chassis.migrations import upgrade
from contracts.person import compose_resident_id
from services.assistance.service import AssistanceService
from tests.helpers import queue_depth, wait_for
from tests.integration.test_care_orders import as_provider, publish

TOWNSHIP, VILLAGE = "330602001", "330602001001"
CLERK = {"id": "caseworker-01", "role": "clerk", "area": TOWNSHIP}
ADMIN = {"id": "ops", "role": "admin"}
DECEASED = compose_resident_id("330602", date(1938, 2, 2), 71)  # 88
GRANDCHILD = compose_resident_id("330602", date(2016, 8, 8), 72)
DIED = "2026-06-02"


def rows(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def death(case_id, resident_id=DECEASED):
    return {
        "case_id": case_id,
        "resident_id": resident_id,
        "name": "周老",
        "date_of_death": DIED,
        "region_code": TOWNSHIP,
        "source": "hospital",
    }


def test_a_death_frees_the_bed_and_raises_a_child_review_and_a_revocation_gives_it_back(care, amqp_uri):
    rpc, engine = care
    rpc.import_people(ADMIN, {"people": [{"resident_id": DECEASED, "name": "周老", "region_code": TOWNSHIP}]})
    rpc.register_institution(
        CLERK,
        {
            "code": "YC-HOME",
            "name": "越城福利院",
            "ownership": "public",
            "region_code": TOWNSHIP,
            "beds": {"ordinary": 0, "nursing": 1, "dementia": 0},
        },
    )
    admission = rpc.admit(
        CLERK, {"resident_id": DECEASED, "institution": "YC-HOME", "bed_type": "nursing", "admitted_on": "2026-03-01"}
    )
    assert admission["beds_free"] == 0
    rpc.register_child(
        CLERK,
        {
            "resident_id": GRANDCHILD,
            "name": "周小",
            "category": "de_facto_unsupported",
            "placement": "community",
            "village_code": VILLAGE,
            "household": "三组 2 号",
            "guardian": "祖父",
            "guardian_resident_id": DECEASED,
        },
    )
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="care's reaction")
    stopped = rpc.after_death(CLERK, case_id)
    assert stopped["changes"]["admission"] == admission["admission_id"]
    (review,) = stopped["child_reviews"]
    assert (review["child_resident_id"], review["state"], review["due"]) == (GRANDCHILD, "open", "2026-06-11")
    assert rows(engine, "SELECT discharged_on::text FROM admission") == [(DIED,)]
    assert rows(engine, "SELECT deceased_on::text FROM elder") == [(DIED,)]
    (report,) = rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported'")
    assert report.body["data"]["state"] == "done" and "freed" in report.body["data"]["reason"]

    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="the restoration")
    assert rows(engine, "SELECT discharged_on FROM admission") == [(None,)]  # the bed was still free
    assert rows(engine, "SELECT state FROM child_review") == [("withdrawn",)]
    assert rows(engine, "SELECT deceased_on FROM elder") == [(None,)]
    states = [
        r.body["data"]["state"]
        for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported' ORDER BY id")
    ]
    assert states == ["done", "reversed"]


def test_someone_care_never_knew_is_not_applicable(care, amqp_uri):
    rpc, engine = care
    stranger = compose_resident_id("330602", date(1970, 1, 1), 81)
    publish(amqp_uri, "death.notified", "funeral", death(str(uuid.uuid4()), stranger))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("not_applicable",)], what="care's answer")
    (report,) = rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported'")
    assert report.body["data"]["state"] == "not_applicable"


def test_a_revocation_overtaking_its_notice_closes_the_step(care, amqp_uri):
    """The notice failed and went to retry while its revocation went through: nothing is stopped,
    and the step says not applicable so the revoked matter does not wait on it for ever."""
    rpc, engine = care
    rpc.import_people(ADMIN, {"people": [{"resident_id": DECEASED, "name": "周老", "region_code": TOWNSHIP}]})
    case_id = str(uuid.uuid4())
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("revoked",)], what="the tombstone")
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(
        lambda: rows(engine, "SELECT count(*) FROM inbox WHERE consumer = 'care.on_death'")[0][0] == 2,
        what="the late notice",
    )
    assert rows(engine, "SELECT deceased_on FROM elder") == [(None,)]
    reports = [
        r.body["data"] for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported'")
    ]
    assert [(r["step"], r["state"]) for r in reports] == [("care_stopped", "not_applicable")]


def one_person_household(engine, payments, programme="tekun") -> None:
    """Household h-1: the deceased alone, 特困 (or `programme`) at 1105 yuan a month, with these
    (month, state) payments."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO household (id, region_code, address, bank_account, created_at) "
                "VALUES ('h-1', :r, '一号', '6228', :now)"
            ),
            {"r": TOWNSHIP, "now": datetime.now(UTC)},
        )
        conn.execute(
            text(
                "INSERT INTO member (id, household_id, resident_id, name, relationship, monthly_income_fen, "
                "employment_cost_fen, seriously_ill, severely_disabled, pregnant, single_person_listing, "
                "joined_on) VALUES ('m-1', 'h-1', :p, '周老', 'head', 0, 0, false, false, false, false, "
                "'2026-01-01')"
            ),
            {"p": DECEASED},
        )
        entitlement = conn.execute(
            text(
                "INSERT INTO entitlement (household_id, programme, monthly_amount_fen, starts_on, policy_version) "
                "VALUES ('h-1', :programme, 110500, '2026-01-01', 'test') RETURNING id"
            ),
            {"programme": programme},
        ).scalar_one()
        for month, state in payments:
            conn.execute(
                text(
                    "INSERT INTO payment (cycle_id, entitlement_id, household_id, kind, for_month, amount_fen, "
                    "bank_account, policy_version, state) VALUES (:c, :e, 'h-1', 'regular', :m, 110500, "
                    "'6228', 'test', :s)"
                ),
                {"c": month[:7], "e": entitlement, "m": month, "s": state},
            )
        conn.execute(
            text(
                "INSERT INTO payment_cycle (id, month, state, frozen_at, payments, total_fen) "
                "SELECT DISTINCT to_char(for_month, 'YYYY-MM'), for_month, 'reconciled', now(), 1, 110500 "
                "FROM payment"
            )
        )


def rpc_freeze(amqp_uri, month):
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        return proxy.assistance.freeze_payment_cycle(ADMIN, {"month": month})


def start_assistance(make_database, base_config, start_service, tmp_path):
    url = make_database("assistance")
    upgrade("services/assistance", url)
    start_service(
        AssistanceService,
        {
            **base_config,
            "DATABASE_URL": url,
            "CHECK_SOURCES_URL": "http://127.0.0.1:9",
            "CHECK_SOURCES_TOKEN": "unused: nothing answers there",
            "BANK_FILES_DIR": str(tmp_path),
        },
    )
    return create_engine(url)


def test_a_one_person_household_overpaid_for_every_month_after_the_death(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 3))
    # a 特困 person living alone, paid May, June and August (handed to the bank); July failed
    one_person_household(
        engine, (("2026-05-01", "paid"), ("2026-06-01", "paid"), ("2026-07-01", "failed"), ("2026-08-01", "pending"))
    )
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="assistance's reaction")
    (over,) = rows(engine, "SELECT months, amount_fen FROM overpayment")
    # June, the month of death, is due in full; August was paid for nobody
    assert (over.months, over.amount_fen) == (["2026-08-01"], 110500)
    assert rows(engine, "SELECT state, amount_fen FROM recovery") == [("open", 110500)]
    assert rows(engine, "SELECT ends_on::text FROM entitlement") == [(DIED,)]
    types = sorted(r.event_type for r in rows(engine, "SELECT event_type FROM outbox"))
    assert types == ["assistance.entitlement_ended", "assistance.member_left", "matter.step_reported"]
    # July's failed payment, for a month after the death, is not paid again as arrears
    manual_clock.set_local_date(date(2026, 9, 1))
    september = rpc_freeze(amqp_uri, "2026-09-01")
    assert (september["arrears"], september["payments"]) == (0, 0)
    engine.dispose()


def test_revoked_death_owes_back_pay_once_for_a_failed_month(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """The one-person household again, its death revoked: August was paid (nothing owed), July's
    failed payment is paid as arrears by the next cycle (so not in the back pay too), and
    September, frozen while the benefit was stopped, is owed in full."""
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 3))
    one_person_household(engine, (("2026-07-01", "failed"), ("2026-08-01", "paid")))
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="the stop")
    manual_clock.set_local_date(date(2026, 9, 1))
    assert rpc_freeze(amqp_uri, "2026-09-01")["payments"] == 0  # stopped: September pays nothing
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="the revocation")
    assert rows(engine, "SELECT amount_fen, months FROM back_pay") == [
        (110500, [{"month": "2026-09-01", "owed_fen": 110500, "paid_fen": 0}])
    ]
    assert rows(engine, "SELECT state FROM recovery") == [("cancelled",)]  # August was due after all
    assert rows(engine, "SELECT ends_on FROM entitlement") == [(None,)]
    # the departments were told it ended; they are told it runs on (医疗救助 follows it)
    resumed = [
        r.body["data"]
        for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'assistance.entitlement_resumed'")
    ]
    assert [(r["programme"], r["resumed_from"]) for r in resumed] == [("tekun", DIED)]
    october = rpc_freeze(amqp_uri, "2026-10-01")
    assert (october["regular"], october["arrears"], october["arrears_fen"]) == (1, 1, 110500)  # July, once
    engine.dispose()


def test_assistance_closes_its_step_when_the_revocation_overtakes_the_notice(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 3))
    one_person_household(engine, (("2026-07-01", "paid"),))
    case_id = str(uuid.uuid4())
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("revoked",)], what="the tombstone")
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(
        lambda: rows(engine, "SELECT count(*) FROM inbox WHERE consumer = 'assistance.on_death'")[0][0] == 2,
        what="the late notice",
    )
    assert rows(engine, "SELECT ends_on FROM entitlement") == [(None,)] and not rows(
        engine, "SELECT 1 FROM overpayment"
    )
    reports = [
        r.body["data"] for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported'")
    ]
    assert [(r["step"], r["state"]) for r in reports] == [("benefits_stopped", "not_applicable")]
    engine.dispose()


def test_a_death_during_gradual_exit_stops_it_and_a_revocation_owes_only_its_months(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """特困 ended in May but paid on under 渐退 until September; the person dies on 2 June, heard
    of in August. July and August were paid for nobody; September must not be paid. Revoked in
    October: the 渐退 runs to September again, so September is owed and October is not."""
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 3))
    one_person_household(engine, (("2026-06-01", "paid"), ("2026-07-01", "paid"), ("2026-08-01", "pending")))
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE entitlement SET ends_on = '2026-05-31', gradual_exit_until = '2026-09-30', "
                "exit_reason = 'income above the line'"
            )
        )
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="assistance's reaction")
    assert rows(engine, "SELECT months, amount_fen FROM overpayment") == [(["2026-07-01", "2026-08-01"], 221000)]
    assert rows(engine, "SELECT ends_on::text, gradual_exit_until::text FROM entitlement") == [("2026-05-31", DIED)]
    # it ended in May and the departments were told then: no second entitlement_ended
    assert not rows(engine, "SELECT 1 FROM outbox WHERE event_type = 'assistance.entitlement_ended'")
    manual_clock.set_local_date(date(2026, 9, 1))
    assert rpc_freeze(amqp_uri, "2026-09-01")["payments"] == 0  # 渐退 stopped with the death
    manual_clock.set_local_date(date(2026, 10, 1))
    assert rpc_freeze(amqp_uri, "2026-10-01")["payments"] == 0
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="the revocation")
    assert rows(engine, "SELECT ends_on::text, gradual_exit_until::text, exit_reason FROM entitlement") == [
        ("2026-05-31", "2026-09-30", "income above the line")
    ]
    # nor, as its end was not the death's, that it resumed
    assert not rows(engine, "SELECT 1 FROM outbox WHERE event_type = 'assistance.entitlement_resumed'")
    assert rows(engine, "SELECT amount_fen, months FROM back_pay") == [
        (110500, [{"month": "2026-09-01", "owed_fen": 110500, "paid_fen": 0}])
    ]
    engine.dispose()


def test_a_revoked_death_pays_the_allowance_back_for_the_months_it_missed(care, manual_clock, amqp_uri):
    """June paid, the death on 2 June stops July (frozen while ended); the revocation in July
    has August's cycle pay July back once, at July's band, and August as usual."""
    rpc, engine = care
    bureau = {"id": "allowance-office", "role": "clerk", "area": "330602"}
    manual_clock.set_local_date(date(2026, 6, 1))
    rpc.import_people(
        ADMIN,
        {
            "people": [
                {
                    "resident_id": DECEASED,
                    "name": "周老",
                    "region_code": TOWNSHIP,
                    "bank_account": "6217000000000000071",
                }
            ]
        },
    )
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 1
    june = rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-06-01"})
    assert june["payments"] == 1
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="care's reaction")
    manual_clock.set_local_date(date(2026, 7, 1))
    assert rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-07-01"})["payments"] == 0
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="the restoration")
    manual_clock.set_local_date(date(2026, 8, 1))
    august = rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-08-01"})
    assert (august["regular"], august["back_pay"], august["back_pay_fen"]) == (1, 1, june["total_fen"])
    assert rows(engine, "SELECT for_month::text, kind FROM allowance_payment ORDER BY for_month") == [
        ("2026-06-01", "regular"),
        ("2026-07-01", "back_pay"),
        ("2026-08-01", "regular"),
    ]
    manual_clock.set_local_date(date(2026, 9, 1))
    assert rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-09-01"})["back_pay"] == 0


def test_a_death_and_its_revocation_waiting_together_end_as_if_nothing_happened(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """Both events wait in the queue before assistance starts, so they are handled in one batch,
    one transaction: the revocation must see what the notice did in it and undo all of it."""
    from chassis.topology import declare_topology

    url = make_database("assistance")
    upgrade("services/assistance", url)
    engine = create_engine(url)
    manual_clock.set_local_date(date(2026, 8, 3))
    one_person_household(engine, (("2026-06-01", "paid"), ("2026-07-01", "paid")))
    declare_topology(amqp_uri)
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    start_service(
        AssistanceService,
        {
            **base_config,
            "DATABASE_URL": url,
            "CHECK_SOURCES_URL": "http://127.0.0.1:9",
            "CHECK_SOURCES_TOKEN": "unused: nothing answers there",
            "BANK_FILES_DIR": str(tmp_path),
        },
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="both events")
    assert rows(engine, "SELECT ends_on, exit_reason FROM entitlement") == [(None, None)]
    assert rows(engine, "SELECT left_on FROM member") == [(None,)]
    assert rows(engine, "SELECT months, amount_fen FROM overpayment") == [(["2026-07-01"], 110500)]
    assert rows(engine, "SELECT state FROM recovery") == [("cancelled",)]
    assert not rows(engine, "SELECT 1 FROM back_pay")  # no cycle ran while it was stopped
    states = [
        r.body["data"]["state"]
        for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported' ORDER BY id")
    ]
    assert states == ["done", "reversed"]
    # one claim, one transaction: the inbox stamps a batch's events with one time
    (batches,) = rows(engine, "SELECT count(DISTINCT handled_at) FROM inbox WHERE consumer = 'assistance.on_death'")
    assert batches == (1,)
    engine.dispose()


# --- home-care vouchers when a death is revoked --------------------------------------------------------


def approve(amqp_uri, *members, programme="dibao", household="h-1"):
    """assistance's approval, as care receives it: the members' vouchers (低保: 300 yuan a month)."""
    publish(
        amqp_uri,
        "assistance.approved",
        "assistance",
        {
            "application_id": f"a-{household}",
            "household_id": household,
            "programme": programme,
            "monthly_amount_fen": 110500,
            "starts_on": "2026-01-01",
            "region_code": TOWNSHIP,
            "policy_version": "test",
            "members": [{"resident_id": m, "name": "某"} for m in members],
        },
    )


def publish_to(amqp_uri, queue, event_type, source, data):
    """One consumer's copy only: as if the others' copies were still waiting in retry."""
    body = {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": source,
        "time": datetime.now(UTC).isoformat(),
        "subject": f"{source}-test",
        "matter_id": None,
        "correlation_id": None,
        "causation_id": None,
        "schema_version": 1,
        "data": data,
    }
    with Connection(amqp_uri) as conn:
        Producer(conn.channel()).publish(body, exchange="", routing_key=queue, serializer="json")
    return body


def handled(engine, consumer):
    return rows(engine, f"SELECT count(*) FROM inbox WHERE consumer = '{consumer}'")[0][0]


def voucher_ends(engine, resident_id=DECEASED):
    return rows(engine, f"SELECT ends_on::text FROM voucher_eligibility WHERE resident_id = '{resident_id}'")


def use_the_voucher(rpc, engine, month):
    """An order confirmed in `month`: the budget pays it (once), nothing is left to the person."""
    order = rpc.request_order(
        CLERK, {"resident_id": DECEASED, "service": "meals", "provider": "yc-meals", "price_fen": 12000}
    )
    provider = as_provider("yc-meals")
    rpc.accept_order(provider, order["order_id"])
    rpc.deliver_order(provider, order["order_id"])
    rpc.confirm_order(CLERK, order["order_id"])
    wait_for(
        lambda: rows(
            engine, f"SELECT voucher_fen, copay_fen FROM voucher_drawdown WHERE order_id = '{order['order_id']}'"
        ),
        what="the voucher ledger",
    )
    return rows(
        engine,
        f"SELECT voucher_fen, copay_fen, month::text FROM voucher_drawdown WHERE order_id = '{order['order_id']}'",
    )[0]


@pytest.fixture
def care_and_assistance(care, make_database, base_config, start_service, amqp_uri, tmp_path):
    """Both services over the broker; a 低保 person of 88 living alone, with care's voucher."""
    rpc, engine = care
    assistance = start_assistance(make_database, base_config, start_service, tmp_path)
    one_person_household(assistance, (), programme="dibao")
    approve(amqp_uri, DECEASED)
    wait_for(lambda: voucher_ends(engine) == [(None,)], what="the voucher")
    yield rpc, engine, assistance
    assistance.dispose()


def test_a_voucher_is_usable_again_once_the_death_is_revoked(care_and_assistance, amqp_uri, manual_clock):
    """The death stops the 低保 (assistance.entitlement_ended, with the member leaving) and care's own
    step ends the voucher; the revocation undoes all of it: the voucher pays again, and only once."""
    rpc, engine, assistance = care_and_assistance
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(assistance, "SELECT state FROM death_record") == [("applied",)], what="assistance's stop")
    wait_for(
        lambda: (
            handled(engine, "care.on_entitlement_ended") == handled(engine, "care.on_member_left") == 1
            and rows(engine, "SELECT state FROM death_record") == [("applied",)]
        ),
        what="care's stop",
    )
    assert voucher_ends(engine) == [(DIED,)]
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(
        lambda: (
            handled(engine, "care.on_entitlement_resumed") == 1
            and rows(engine, "SELECT state FROM death_record") == [("reversed",)]
        ),
        what="care's restoration",
    )
    assert voucher_ends(engine) == [(None,)]
    manual_clock.set_local_date(date(2026, 7, 6))  # a month after the death: the voucher pays again
    balance = rpc.voucher_balance(CLERK, DECEASED)
    assert (balance["programme"], balance["monthly_fen"], balance["left_fen"]) == ("dibao", 30000, 30000)
    assert use_the_voucher(rpc, engine, "2026-07-01") == (12000, 0, "2026-07-01")
    assert rpc.voucher_balance(CLERK, DECEASED)["left_fen"] == 18000  # one budget, not two
    assert rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 1


def test_a_voucher_the_benefit_end_closed_after_care_restored_it_is_reopened_by_the_resumption(
    care_and_assistance, amqp_uri, manual_clock
):
    """care's copy of the notice waits in retry while assistance stops the 低保: the voucher is ended
    by assistance's events alone, and care's own step, when the revocation overtakes its notice, has
    nothing of its own to restore. Whichever of assistance's two events closed it (they come on two
    queues: the benefit's end, or the member leaving by the death) is undone: entitlement_resumed
    reopens what its end closed, the revocation what the leaving closed. A redelivery of the
    resumption, or the late notice, changes nothing more."""
    rpc, engine, assistance = care_and_assistance
    case_id = str(uuid.uuid4())
    publish_to(amqp_uri, "assistance.on_death", "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(assistance, "SELECT state FROM death_record") == [("applied",)], what="assistance's stop")
    wait_for(
        lambda: handled(engine, "care.on_entitlement_ended") == handled(engine, "care.on_member_left") == 1,
        what="care hearing of the end",
    )
    assert voucher_ends(engine) == [(DIED,)]
    assert not rows(engine, "SELECT 1 FROM death_record")  # care's own notice has not come
    (cause,) = rows(engine, "SELECT ended_by FROM voucher_eligibility")[0]
    by_the_end = cause.startswith("assistance.entitlement_ended ")
    assert by_the_end or cause.startswith("assistance.member_left ")
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(
        lambda: (
            handled(engine, "care.on_entitlement_resumed") == 1
            and rows(engine, "SELECT state FROM death_record") == [("revoked",)]
        ),
        what="the resumption",
    )
    wait_for(lambda: voucher_ends(engine) == [(None,)], what="the voucher reopened")
    resumption = rows(assistance, "SELECT body FROM outbox WHERE event_type = 'assistance.entitlement_resumed'")
    assert [r.body["data"]["resumed_from"] for r in resumption] == [DIED]
    # the same event delivered again, and care's notice arriving at last: nothing moves
    publish(
        amqp_uri,
        "assistance.entitlement_resumed",
        "assistance",
        resumption[0].body["data"],
        event_id=resumption[0].body["id"],
    )
    publish_to(amqp_uri, "care.on_death", "death.notified", "funeral", death(case_id))
    wait_for(lambda: handled(engine, "care.on_death") == 2, what="the late notice")
    wait_for(lambda: queue_depth(amqp_uri, "care.on_entitlement_resumed") == 0, what="the copy")
    assert voucher_ends(engine) == [(None,)]
    assert rows(engine, "SELECT ended, resumed FROM entitlement_end") == [(1, 1)]
    reopened = rows(engine, "SELECT outcome FROM audit_log WHERE action = 'voucher.resume'")
    assert reopened == ([("resumed",)] if by_the_end else [])
    assert rows(engine, "SELECT ends_on, ended_by FROM supported_member") == [(None, None)]
    manual_clock.set_local_date(date(2026, 7, 6))
    assert use_the_voucher(rpc, engine, "2026-07-01") == (12000, 0, "2026-07-01")
    assert rpc.voucher_balance(CLERK, DECEASED)["left_fen"] == 18000


SPOUSE = compose_resident_id("330602", date(1940, 5, 5), 73)  # 86


def test_the_resumption_reopens_only_what_its_end_closed(care, amqp_uri):
    """Two members' vouchers closed by the household's end; one reopened by a new approval and
    closed since by her leaving: the resumption reopens the other's alone. A support closed by the
    end opens again too."""
    rpc, engine = care
    young = compose_resident_id("330602", date(1970, 1, 1), 74)  # no voucher yet: supported only
    approve(amqp_uri, DECEASED, SPOUSE, young)
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 2, what="the vouchers")
    ended = {"household_id": "h-1", "programme": "dibao", "ends_on": DIED, "reason": "death of the recipient"}
    publish(amqp_uri, "assistance.entitlement_ended", "assistance", ended)
    wait_for(
        lambda: rows(engine, "SELECT count(*) FROM supported_member WHERE ends_on IS NULL")[0][0] == 0, what="the end"
    )
    assert voucher_ends(engine) == voucher_ends(engine, SPOUSE) == [(DIED,)]
    approve(amqp_uri, SPOUSE, household="h-1")  # approved again for her alone: open
    wait_for(lambda: voucher_ends(engine, SPOUSE) == [(None,)], what="her new approval")
    publish(
        amqp_uri,
        "assistance.member_left",
        "assistance",
        {"household_id": "h-1", "resident_id": SPOUSE, "left_on": DIED, "reason": "moved to her son"},
    )
    wait_for(lambda: voucher_ends(engine, SPOUSE) == [(DIED,)], what="her leaving")
    publish(
        amqp_uri,
        "assistance.entitlement_resumed",
        "assistance",
        {"household_id": "h-1", "programme": "dibao", "resumed_from": DIED, "reason": "the death was revoked"},
    )
    wait_for(lambda: voucher_ends(engine) == [(None,)], what="the resumption")
    assert voucher_ends(engine, SPOUSE) == [(DIED,)]  # her leaving stands
    assert rows(engine, f"SELECT ends_on FROM supported_member WHERE resident_id = '{young}'") == [(None,)]
    assert rows(engine, f"SELECT ended_by FROM voucher_eligibility WHERE resident_id = '{SPOUSE}'")[0][0].startswith(
        "assistance.member_left "
    )


def test_a_resumption_overtaking_its_end_leaves_the_voucher_open(care, amqp_uri):
    """The end waits in retry while its resumption goes through: counted, so the end, when it comes,
    closes nothing; a later end of another day closes as usual."""
    rpc, engine = care
    approve(amqp_uri, DECEASED)
    wait_for(lambda: voucher_ends(engine) == [(None,)], what="the voucher")
    publish(
        amqp_uri,
        "assistance.entitlement_resumed",
        "assistance",
        {"household_id": "h-1", "programme": "dibao", "resumed_from": DIED, "reason": "the death was revoked"},
    )
    wait_for(lambda: rows(engine, "SELECT ended, resumed FROM entitlement_end") == [(0, 1)], what="the resumption")
    publish(
        amqp_uri,
        "assistance.entitlement_ended",
        "assistance",
        {"household_id": "h-1", "programme": "dibao", "ends_on": DIED, "reason": "death of the recipient"},
    )
    wait_for(lambda: rows(engine, "SELECT ended, resumed FROM entitlement_end") == [(1, 1)], what="the late end")
    assert voucher_ends(engine) == [(None,)]
    assert rows(engine, "SELECT count(*) FROM supported_member WHERE ends_on IS NULL")[0][0] == 1
    publish(
        amqp_uri,
        "assistance.entitlement_ended",
        "assistance",
        {"household_id": "h-1", "programme": "dibao", "ends_on": "2026-09-30", "reason": "income above the line"},
    )
    wait_for(lambda: voucher_ends(engine) == [("2026-09-30",)], what="a real end")


def test_a_leaving_by_a_revoked_death_is_undone_whenever_it_comes(care, amqp_uri):
    """assistance records the deceased leaving the household on the day of death, naming the case,
    and undoes it on the revocation without an event: what the leaving closed opens with the
    revocation, and a leaving that arrives after it closes nothing. A leaving for another reason,
    even on that day, stands."""
    rpc, engine = care
    approve(amqp_uri, DECEASED, SPOUSE)
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 2, what="the vouchers")
    case_id = str(uuid.uuid4())
    by_death = {
        "household_id": "h-1",
        "resident_id": DECEASED,
        "left_on": DIED,
        "reason": f"death (funeral case {case_id})",
        "case_id": case_id,
    }
    publish(amqp_uri, "assistance.member_left", "assistance", by_death)
    wait_for(lambda: voucher_ends(engine) == [(DIED,)], what="the leaving")
    # the revocation overtakes care's notice: a tombstone, and the leaving undone
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("revoked",)], what="the tombstone")
    assert voucher_ends(engine) == [(None,)]
    assert rows(engine, f"SELECT ends_on FROM supported_member WHERE resident_id = '{DECEASED}'") == [(None,)]
    # the same leaving again, late: nothing; her leaving on another day: hers ends
    publish(amqp_uri, "assistance.member_left", "assistance", by_death)
    publish(
        amqp_uri,
        "assistance.member_left",
        "assistance",
        {"household_id": "h-1", "resident_id": SPOUSE, "left_on": "2026-06-20", "reason": "moved to her son"},
    )
    wait_for(lambda: handled(engine, "care.on_member_left") == 3, what="both leavings")
    assert voucher_ends(engine) == [(None,)] and voucher_ends(engine, SPOUSE) == [("2026-06-20",)]
    # he moves out on the very day the death was wrongly reported: that leaving is no death's, it stands
    publish(
        amqp_uri,
        "assistance.member_left",
        "assistance",
        {"household_id": "h-1", "resident_id": DECEASED, "left_on": DIED, "reason": "moved to a care home"},
    )
    wait_for(lambda: voucher_ends(engine) == [(DIED,)], what="the move out")


# --- a date of death corrected by the clerk (death.date_corrected) -------------------------------------


def corrected(case_id, to, previous, resident_id=DECEASED, revision=1):
    return {
        "case_id": case_id,
        "resident_id": resident_id,
        "date_of_death": to,
        "previous_date_of_death": previous,
        "reason": "the hospital's certificate is the record",
        "revision": revision,
    }


def step_reports(engine, step):
    return [
        r.body["data"]
        for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported' ORDER BY id")
        if r.body["data"]["step"] == step
    ]


def again_and_copied(amqp_uri, engine, consumer, body) -> None:
    """The correction delivered again under its own id, and a copy under a new one; both handled."""
    publish(amqp_uri, body["type"], body["source"], body["data"], event_id=body["id"])
    copy = publish(amqp_uri, body["type"], body["source"], body["data"])
    wait_for(
        lambda: (
            rows(engine, f"SELECT count(*) FROM inbox WHERE consumer = '{consumer}' AND event_id = '{copy['id']}'")[0][
                0
            ]
            == 1
        ),
        what="the copy",
    )


def test_a_later_corrected_date_owes_back_pay_for_the_months_it_makes_due_once(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """The one-person 特困 household, May paid; the death notified as 20 May stops June and July
    (frozen with nothing for the person). The clerk corrects it to 5 July: June and July were due,
    owed back in full; then, the documents read again, to 10 June: only June is owed (what was
    still due of the first correction is superseded, not paid as well). August's cycle pays June
    once, and nothing for August; the correction delivered again and copied changes nothing."""
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 6, 3))
    one_person_household(engine, (("2026-05-01", "paid"),))
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", {**death(case_id), "date_of_death": "2026-05-20"})
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="the stop")
    assert rows(engine, "SELECT ends_on::text FROM entitlement") == [("2026-05-20",)]
    assert rpc_freeze(amqp_uri, "2026-06-01")["payments"] == 0
    manual_clock.set_local_date(date(2026, 7, 1))
    assert rpc_freeze(amqp_uri, "2026-07-01")["payments"] == 0

    manual_clock.set_local_date(date(2026, 7, 8))
    publish(amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-07-05", "2026-05-20"))
    wait_for(
        lambda: rows(engine, "SELECT date_of_death::text FROM death_record") == [("2026-07-05",)],
        what="the first correction",
    )
    assert rows(engine, "SELECT ends_on::text FROM entitlement") == [("2026-07-05",)]
    assert rows(engine, "SELECT state, amount_fen, months FROM back_pay") == [
        (
            "due",
            221000,
            [
                {"month": "2026-06-01", "owed_fen": 110500, "paid_fen": 0},
                {"month": "2026-07-01", "owed_fen": 110500, "paid_fen": 0},
            ],
        )
    ]
    assert not rows(engine, "SELECT 1 FROM overpayment")
    again = publish(
        amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-06-10", "2026-07-05", revision=2)
    )
    wait_for(
        lambda: rows(engine, "SELECT date_of_death::text FROM death_record") == [("2026-06-10",)],
        what="the second correction",
    )
    assert rows(engine, "SELECT ends_on::text FROM entitlement") == [("2026-06-10",)]
    assert rows(engine, "SELECT state, amount_fen, months FROM back_pay ORDER BY recorded_at") == [
        (
            "superseded",
            221000,
            [
                {"month": "2026-06-01", "owed_fen": 110500, "paid_fen": 0},
                {"month": "2026-07-01", "owed_fen": 110500, "paid_fen": 0},
            ],
        ),
        ("due", 110500, [{"month": "2026-06-01", "owed_fen": 110500, "paid_fen": 0}]),
    ]
    assert not rows(engine, "SELECT 1 FROM overpayment")  # July was paid nothing
    # the departments hear the end move, never the benefit run on for a dead person
    events = [
        (r.body["type"], r.body["data"].get("ends_on") or r.body["data"]["resumed_from"])
        for r in rows(engine, "SELECT body FROM outbox WHERE event_type LIKE 'assistance.entitlement_%' ORDER BY id")
    ]
    assert events == [
        ("assistance.entitlement_ended", "2026-05-20"),
        ("assistance.entitlement_ended", "2026-07-05"),
        ("assistance.entitlement_ended", "2026-06-10"),
    ]
    assert [
        r.body["data"]["left_on"]
        for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'assistance.member_left' ORDER BY id")
    ] == ["2026-05-20", "2026-07-05", "2026-06-10"]
    reports = step_reports(engine, "benefits_stopped")
    assert [r["state"] for r in reports] == ["done", "done", "done"]
    assert reports[2]["reason"].startswith("date of death corrected from 2026-07-05 to 2026-06-10: ")
    assert "back pay 1105.00 yuan for 2026-06" in reports[2]["reason"], reports[2]["reason"]

    again_and_copied(amqp_uri, engine, "assistance.on_death", again)
    assert len(step_reports(engine, "benefits_stopped")) == 3
    assert rows(engine, "SELECT count(*) FROM back_pay WHERE state = 'due'") == [(1,)]
    # the first correction again, as if it had waited in retry while the second was handled: stale
    stale = publish(amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-07-05", "2026-05-20"))
    wait_for(
        lambda: (
            rows(
                engine,
                f"SELECT count(*) FROM inbox WHERE consumer = 'assistance.on_death' AND event_id = '{stale['id']}'",
            )[0][0]
            == 1
        ),
        what="the stale correction",
    )
    assert rows(engine, "SELECT date_of_death::text, date_revision FROM death_record") == [("2026-06-10", 2)]
    assert rows(engine, "SELECT ends_on::text FROM entitlement") == [("2026-06-10",)]
    assert len(step_reports(engine, "benefits_stopped")) == 3
    manual_clock.set_local_date(date(2026, 8, 1))
    august = rpc_freeze(amqp_uri, "2026-08-01")
    assert (august["regular"], august["top_up"], august["top_up_fen"]) == (0, 1, 110500)  # June, once
    assert rpc_freeze(amqp_uri, "2026-08-01")["created"] is False
    manual_clock.set_local_date(date(2026, 9, 1))
    assert rpc_freeze(amqp_uri, "2026-09-01")["payments"] == 0
    assert rows(engine, "SELECT for_month::text, amount_fen FROM payment WHERE top_up") == [("2026-06-01", 110500)]
    engine.dispose()


def test_a_corrected_date_recounts_the_overpayment_and_its_recovery_once(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """Paid through August; the death notified as 2 June makes July and August overpaid. Corrected
    to 20 May, June was paid for nobody too: the one recovery is recounted to the three months.
    The household repays two months; the date is corrected again, to 3 July: only August was
    overpaid, so the recovery is recovered and the month repaid beyond it is owed back. One
    overpayment and one recovery all along: nothing is recovered twice."""
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 3))
    one_person_household(
        engine, (("2026-05-01", "paid"), ("2026-06-01", "paid"), ("2026-07-01", "paid"), ("2026-08-01", "pending"))
    )
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="the stop")
    assert rows(engine, "SELECT months, amount_fen FROM overpayment") == [(["2026-07-01", "2026-08-01"], 221000)]
    body = publish(amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-05-20", DIED))
    wait_for(
        lambda: rows(engine, "SELECT date_of_death::text FROM death_record") == [("2026-05-20",)], what="the correction"
    )
    again_and_copied(amqp_uri, engine, "assistance.on_death", body)

    def recovery():
        return rows(
            engine,
            "SELECT o.months, o.amount_fen, r.state, r.amount_fen, r.recovered_fen FROM overpayment o "
            "JOIN recovery r ON r.overpayment_id = o.id",
        )

    assert recovery() == [(["2026-06-01", "2026-07-01", "2026-08-01"], 331500, "open", 331500, 0)]
    assert rows(engine, "SELECT note FROM recovery")[0][0].startswith(
        "the date of death was corrected: the overpayment came to 3315.00 yuan for 2026-06, 2026-07, 2026-08, "
        "not 2210.00 yuan for 2026-07, 2026-08"
    )
    assert rows(engine, "SELECT for_month::text FROM after_death_payment ORDER BY for_month") == [
        ("2026-06-01",),
        ("2026-07-01",),
        ("2026-08-01",),
    ]  # the payments the new date finds after it
    assert rows(engine, "SELECT ends_on::text FROM entitlement") == [("2026-05-20",)]
    assert rows(engine, "SELECT left_on::text FROM member") == [("2026-05-20",)]
    assert not rows(engine, "SELECT 1 FROM back_pay")
    reports = step_reports(engine, "benefits_stopped")
    assert [r["state"] for r in reports] == ["done", "done"]
    assert reports[1]["reason"].startswith(f"date of death corrected from {DIED} to 2026-05-20: ")
    assert "overpayment recounted: 3315.00 yuan for 2026-06, 2026-07, 2026-08, recovery open" in reports[1]["reason"]

    (recovery_id,) = rows(engine, "SELECT id FROM recovery")[0]
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        proxy.assistance.record_repayment(
            CLERK,
            recovery_id,
            {"amount_fen": 221000, "received_on": "2026-08-03", "method": "repayment", "reference": "R-1"},
        )
    publish(amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-07-03", "2026-05-20", revision=2))
    wait_for(
        lambda: rows(engine, "SELECT date_of_death::text FROM death_record") == [("2026-07-03",)],
        what="the second correction",
    )
    assert recovery() == [(["2026-08-01"], 110500, "recovered", 110500, 221000)]
    assert "1105.00 yuan received is owed back to the household" in rows(engine, "SELECT note FROM recovery")[0][0]
    # June, now before the death, was paid in full: no back pay; July is the month of death
    assert not rows(engine, "SELECT 1 FROM back_pay")
    assert rows(engine, "SELECT ends_on::text FROM entitlement") == [("2026-07-03",)]
    engine.dispose()


def test_a_corrected_date_moves_every_end_in_care_and_pays_the_allowance_back_once(care, manual_clock, amqp_uri):
    """The death notified as 2 June frees the bed (taken by someone else since), ends the
    allowance (July frozen without the person) and raises the grandchild's review. Corrected to
    5 July: the stay ends on 5 July, the allowance too (July is paid back by August's cycle, once),
    and the review stands, not raised twice."""
    rpc, engine = care
    bureau = {"id": "allowance-office", "role": "clerk", "area": "330602"}
    other = compose_resident_id("330602", date(1940, 4, 4), 91)
    manual_clock.set_local_date(date(2026, 6, 1))
    rpc.import_people(
        ADMIN,
        {
            "people": [
                {
                    "resident_id": DECEASED,
                    "name": "周老",
                    "region_code": TOWNSHIP,
                    "bank_account": "6217000000000000071",
                }
            ]
        },
    )
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 1
    june = rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-06-01"})
    rpc.register_institution(
        CLERK,
        {
            "code": "YC-HOME",
            "name": "越城福利院",
            "ownership": "public",
            "region_code": TOWNSHIP,
            "beds": {"ordinary": 0, "nursing": 1, "dementia": 0},
        },
    )
    admission = rpc.admit(
        CLERK, {"resident_id": DECEASED, "institution": "YC-HOME", "bed_type": "nursing", "admitted_on": "2026-03-01"}
    )
    rpc.register_child(
        CLERK,
        {
            "resident_id": GRANDCHILD,
            "name": "周小",
            "category": "de_facto_unsupported",
            "placement": "community",
            "village_code": VILLAGE,
            "household": "三组 2 号",
            "guardian": "祖父",
            "guardian_resident_id": DECEASED,
        },
    )
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="care's reaction")
    (review,) = rpc.after_death(CLERK, case_id)["child_reviews"]
    # the freed bed is given to someone else
    assert (
        rpc.admit(
            CLERK, {"resident_id": other, "institution": "YC-HOME", "bed_type": "nursing", "admitted_on": "2026-06-20"}
        )["beds_free"]
        == 0
    )
    manual_clock.set_local_date(date(2026, 7, 1))
    assert rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-07-01"})["payments"] == 0

    manual_clock.set_local_date(date(2026, 7, 8))
    body = publish(amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-07-05", DIED))
    wait_for(
        lambda: rows(engine, "SELECT date_of_death::text FROM death_record") == [("2026-07-05",)], what="the correction"
    )
    again_and_copied(amqp_uri, engine, "care.on_death", body)
    restated = rpc.after_death(CLERK, case_id)
    assert (restated["state"], restated["date_of_death"], restated["allowance_ended_on"]) == (
        "applied",
        "2026-07-05",
        "2026-07-05",
    )
    # the same review, open, once; its text names the confirmed date
    assert restated["child_reviews"] == [
        {**review, "reason": "the child's caregiver died on 2026-07-05: review who cares for the child"}
    ]
    assert restated["changes"]["admission"] == admission["admission_id"]
    assert rows(engine, "SELECT resident_id, discharged_on::text FROM admission ORDER BY admitted_on") == [
        (DECEASED, "2026-07-05"),
        (other, None),
    ]
    assert rows(
        engine, "SELECT deceased_on::text FROM elder WHERE resident_id = :p".replace(":p", f"'{DECEASED}'")
    ) == [("2026-07-05",)]
    reports = step_reports(engine, "care_stopped")
    assert [r["state"] for r in reports] == ["done", "done"]
    assert reports[1]["reason"].startswith(f"date of death corrected from {DIED} to 2026-07-05: ")
    assert "child-welfare review of 周小 stands" in reports[1]["reason"]
    # July, now the month of death, is paid back once; August is not paid
    manual_clock.set_local_date(date(2026, 8, 1))
    august = rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-08-01"})
    assert (august["regular"], august["back_pay"], august["back_pay_fen"]) == (0, 1, june["total_fen"])
    manual_clock.set_local_date(date(2026, 9, 1))
    assert rpc.freeze_allowance_cycle(bureau, {"region_code": "330602", "month": "2026-09-01"})["payments"] == 0
    assert rows(
        engine,
        f"SELECT for_month::text, kind FROM allowance_payment WHERE resident_id = '{DECEASED}' ORDER BY for_month",
    ) == [("2026-06-01", "regular"), ("2026-07-01", "back_pay")]


def test_a_corrected_date_moves_the_voucher_and_the_support_and_a_revocation_still_reopens_them(
    care_and_assistance, amqp_uri, manual_clock
):
    """The 低保 person living alone, dead on 2 June by the notice: the benefit ends, the voucher and
    the support close. The date corrected to 20 May: assistance ends the benefit on 20 May instead
    (announced as a new end, not as a resumption: care never sees a dead person's support run on),
    and care's voucher and support end on 20 May. A revocation afterwards still reopens them."""
    rpc, engine, assistance = care_and_assistance
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(
        lambda: (
            handled(engine, "care.on_entitlement_ended") == handled(engine, "care.on_member_left") == 1
            and rows(engine, "SELECT state FROM death_record") == [("applied",)]
        ),
        what="the stop",
    )
    body = publish(amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-05-20", DIED))
    wait_for(
        lambda: (
            handled(engine, "care.on_entitlement_ended") == handled(engine, "care.on_member_left") == 2
            and rows(engine, "SELECT date_of_death::text FROM death_record") == [("2026-05-20",)]
            and rows(assistance, "SELECT date_of_death::text FROM death_record") == [("2026-05-20",)]
        ),
        what="both corrections and assistance's events",
    )
    again_and_copied(amqp_uri, engine, "care.on_death", body)
    assert not rows(assistance, "SELECT 1 FROM outbox WHERE event_type = 'assistance.entitlement_resumed'")
    assert rows(assistance, "SELECT ends_on::text FROM entitlement") == [("2026-05-20",)]
    assert voucher_ends(engine) == [("2026-05-20",)]
    assert rows(engine, "SELECT ends_on::text FROM supported_member") == [("2026-05-20",)]
    assert rpc.after_death(CLERK, case_id)["vouchers"] == [{"programme": "dibao", "ends_on": "2026-05-20"}]

    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": "2026-05-20", "reason": "another person"},
    )
    wait_for(
        lambda: (
            handled(engine, "care.on_entitlement_resumed") == 1
            and rows(engine, "SELECT state FROM death_record") == [("reversed",)]
        ),
        what="the revocation",
    )
    wait_for(lambda: rows(engine, "SELECT ends_on FROM supported_member") == [(None,)], what="the support reopened")
    assert voucher_ends(engine) == [(None,)]
    assert rows(assistance, "SELECT ends_on FROM entitlement") == [(None,)]


def test_a_corrected_date_rewrites_the_child_review_with_the_confirmed_date(care, amqp_uri):
    """The caregiver's death raises the child's review, whose text names the date of death. The
    date is corrected: the review stands (once), and its text names the confirmed date, not the old
    one (failed before issue 18: the review kept "died on 2026-06-02" after the correction)."""
    rpc, engine = care
    rpc.register_child(
        CLERK,
        {
            "resident_id": GRANDCHILD,
            "name": "周小",
            "category": "de_facto_unsupported",
            "placement": "community",
            "village_code": VILLAGE,
            "household": "三组 2 号",
            "guardian": "祖父",
            "guardian_resident_id": DECEASED,
        },
    )
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="care's reaction")
    assert rows(engine, "SELECT reason FROM child_review") == [
        (f"the child's caregiver died on {DIED}: review who cares for the child",)
    ]
    publish(amqp_uri, "death.date_corrected", "funeral", corrected(case_id, "2026-06-05", DIED))
    wait_for(
        lambda: rows(engine, "SELECT date_of_death::text FROM death_record") == [("2026-06-05",)], what="the correction"
    )
    assert rows(engine, "SELECT state, reason FROM child_review") == [
        ("open", "the child's caregiver died on 2026-06-05: review who cares for the child")
    ]
    assert rows(engine, "SELECT count(*) FROM audit_log WHERE action = 'child.review_restated'") == [(1,)]


BUREAU = {"id": "allowance-office", "role": "clerk", "area": "330602"}


def an_enrolled_elder(rpc, manual_clock):
    manual_clock.set_local_date(date(2026, 6, 1))
    rpc.import_people(
        ADMIN,
        {
            "people": [
                {
                    "resident_id": DECEASED,
                    "name": "周老",
                    "region_code": TOWNSHIP,
                    "bank_account": "6217000000000000071",
                }
            ]
        },
    )
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 1
    return rpc.freeze_allowance_cycle(BUREAU, {"region_code": "330602", "month": "2026-06-01"})


def payments_of(engine):
    return rows(
        engine,
        f"SELECT for_month::text, kind, state, failure_reason FROM allowance_payment WHERE resident_id = '{DECEASED}'"
        " ORDER BY for_month, id",
    )


def revoked(case_id):
    return {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"}


def test_a_death_withholds_the_allowance_from_a_batch_frozen_but_not_sent(care, manual_clock, amqp_uri):
    """July's cycle is frozen on 1 July, with the person, and not yet sent when their death (2
    June) arrives on 3 July: July's payment leaves the batch (failed: withheld), so the bank is
    never asked to pay it, and no recovery is needed. The death is revoked: August pays July as
    arrears, once (failed before issue 18: July went to the bank with the batch)."""
    rpc, engine = care
    june = an_enrolled_elder(rpc, manual_clock)
    manual_clock.set_local_date(date(2026, 7, 1))
    july = rpc.freeze_allowance_cycle(BUREAU, {"region_code": "330602", "month": "2026-07-01"})
    assert july["payments"] == 1
    manual_clock.set_local_date(date(2026, 7, 3))
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="care's reaction")
    assert payments_of(engine) == [
        ("2026-06-01", "regular", "pending", None),
        ("2026-07-01", "regular", "failed", f"withheld: death (funeral case {case_id})"),
    ]
    sent = rpc.send_allowance_batch(BUREAU, july["cycle_id"])
    assert (sent["rows"], sent["total_fen"]) == (0, 0)
    view = rpc.after_death(BUREAU, case_id)
    assert view["allowance_recovery"] is None  # nothing went out for a month after the death
    (report,) = step_reports(engine, "care_stopped")
    assert "allowance for 2026-07 withheld from the batch not yet sent" in report["reason"]

    publish(amqp_uri, "death.revoked", "funeral", revoked(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="the revocation")
    manual_clock.set_local_date(date(2026, 8, 1))
    august = rpc.freeze_allowance_cycle(BUREAU, {"region_code": "330602", "month": "2026-08-01"})
    assert (august["regular"], august["arrears"], august["arrears_fen"]) == (1, 1, june["total_fen"])


def test_the_allowance_paid_after_the_death_is_recorded_for_recovery(care, manual_clock, amqp_uri):
    """July's batch is with the bank when the death (2 June) arrives: July is recorded for
    recovery (追回), as assistance records its own. The bank says July failed: nothing to recover;
    that it paid after all: owed again; the death is revoked: cancelled (failed before issue 18:
    care only said "to stop at the bank or recover", with no record)."""
    rpc, engine = care
    an_enrolled_elder(rpc, manual_clock)
    manual_clock.set_local_date(date(2026, 7, 1))
    july = rpc.freeze_allowance_cycle(BUREAU, {"region_code": "330602", "month": "2026-07-01"})
    rpc.send_allowance_batch(BUREAU, july["cycle_id"])
    (payment_id,) = [
        r[0] for r in rows(engine, f"SELECT id FROM allowance_payment WHERE cycle_id = '{july['cycle_id']}'")
    ]
    manual_clock.set_local_date(date(2026, 7, 3))
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="care's reaction")
    recovery = rpc.after_death(BUREAU, case_id)["allowance_recovery"]
    assert (recovery["months"], recovery["amount_fen"], recovery["state"]) == (
        ["2026-07-01"],
        july["total_fen"],
        "open",
    )
    assert payments_of(engine)[1][2] == "pending"  # with the bank: recovered, not withheld

    bank = {"id": "banks", "role": "partner"}
    rpc.reconcile_allowance_results(
        bank, july["cycle_id"], {"results": [{"payment_id": payment_id, "status": "failed", "reason": "closed"}]}
    )
    recovery = rpc.after_death(BUREAU, case_id)["allowance_recovery"]
    assert (recovery["amount_fen"], recovery["state"]) == (0, "cancelled")
    rpc.reconcile_allowance_results(bank, july["cycle_id"], {"results": [{"payment_id": payment_id, "status": "paid"}]})
    recovery = rpc.after_death(BUREAU, case_id)["allowance_recovery"]
    assert (recovery["amount_fen"], recovery["state"]) == (july["total_fen"], "open")
    # the same answer again changes nothing
    rpc.reconcile_allowance_results(bank, july["cycle_id"], {"results": [{"payment_id": payment_id, "status": "paid"}]})
    assert rows(
        engine, "SELECT action, outcome FROM audit_log WHERE subject LIKE 'allowance-recovery-%' ORDER BY id"
    ) == [
        ("allowance.recovery", "open"),
        ("allowance.recovery_recount", "cancelled"),
        ("allowance.recovery_recount", "open"),
    ]

    publish(amqp_uri, "death.revoked", "funeral", revoked(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="the revocation")
    recovery = rpc.after_death(BUREAU, case_id)["allowance_recovery"]
    assert (recovery["state"], recovery["note"]) == ("cancelled", "the death was revoked: another person")


def test_assistance_withholds_a_payment_frozen_but_not_sent_when_the_death_arrives(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """The one-person household's August is frozen (10 August's cycle, not yet sent) when the death
    (2 June) arrives: August leaves the batch (failed: withheld), so nothing goes to the bank for a
    month after the death and nothing is to recover for it; the death is revoked: August is paid
    as arrears, once, and owed no back pay beside (failed before issue 18: August went to the bank
    and was recorded for recovery)."""
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 3))
    one_person_household(engine, (("2026-07-01", "paid"), ("2026-08-01", "pending")))
    with engine.begin() as conn:
        conn.execute(text("UPDATE payment_cycle SET state = 'frozen' WHERE id = '2026-08'"))
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="assistance's reaction")
    assert rows(engine, "SELECT for_month::text, state, failure_reason FROM payment ORDER BY for_month") == [
        ("2026-07-01", "paid", None),
        ("2026-08-01", "failed", f"withheld: death (funeral case {case_id})"),
    ]
    # July was paid after the death (June): that is the overpayment; August is not
    assert rows(engine, "SELECT months, amount_fen FROM overpayment") == [(["2026-07-01"], 110500)]
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        sent = proxy.assistance.send_bank_batch(ADMIN, "2026-08")
    assert (sent["rows"], sent["total_fen"]) == (0, 0)
    assert "withheld from the batch not yet sent" in step_reports(engine, "benefits_stopped")[0]["reason"]

    manual_clock.set_local_date(date(2026, 8, 20))
    publish(
        amqp_uri,
        "death.revoked",
        "funeral",
        {"case_id": case_id, "resident_id": DECEASED, "date_of_death": DIED, "reason": "another person"},
    )
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("reversed",)], what="the revocation")
    assert rows(engine, "SELECT months FROM back_pay") == []  # August is paid as arrears, not twice
    manual_clock.set_local_date(date(2026, 9, 1))
    september = rpc_freeze(amqp_uri, "2026-09-01")
    assert (september["regular"], september["arrears"], september["arrears_fen"]) == (1, 1, 110500)
    engine.dispose()


def test_the_one_off_command_recounts_recoveries_opened_before_the_recount(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """A recovery opened before recoveries were recounted from the payments' states counted
    August, which the bank never made (as the code of the day did), and nothing since moved it.
    The one-off command counts it again as the recount does: July only; running it again changes
    nothing (failed before issue 18: there was no such command, and the recovery stayed at both
    months)."""
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 20))
    one_person_household(engine, (("2026-07-01", "paid"), ("2026-08-01", "failed")))
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="assistance's reaction")
    # as it was recorded before the recount: August counted though it failed
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE overpayment SET amount_fen = 221000, months = CAST(:m AS json)"),
            {"m": json.dumps(["2026-07-01", "2026-08-01"])},
        )
        conn.execute(text("UPDATE recovery SET amount_fen = 221000"))
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "services.assistance.recount_once", "--amqp", amqp_uri],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["recounted"] == 1
    assert rows(engine, "SELECT months, amount_fen FROM overpayment") == [(["2026-07-01"], 110500)]
    (recovery,) = rows(engine, "SELECT state, amount_fen, note FROM recovery")
    assert (recovery.state, recovery.amount_fen) == ("open", 110500)
    assert recovery.note.startswith("recounted once: opened before recoveries were recounted")
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        assert proxy.assistance.recount_recoveries(ADMIN)["recounted"] == 0  # once is enough
    assert rows(engine, "SELECT count(*) FROM audit_log WHERE action = 'recovery.recount_once'") == [(2,)]
    engine.dispose()


def test_a_death_handled_during_a_reconciliation_counts_the_payments_it_leaves(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    """The bank's answer that August failed is being applied (its transaction open, not yet
    committed) when the death (2 June) is handled: the death waits for it and counts August as
    failed, so only July is to recover (failed before issue 18: the death read August's old state,
    pending, and counted it; the reconciliation's recount never saw the death's links)."""
    engine = start_assistance(make_database, base_config, start_service, tmp_path)
    manual_clock.set_local_date(date(2026, 8, 20))
    one_person_household(engine, (("2026-07-01", "paid"), ("2026-08-01", "pending")))
    reconciliation = engine.connect()
    in_flight = reconciliation.begin()
    reconciliation.execute(
        text("UPDATE payment SET state = 'failed', failure_reason = 'account closed' WHERE for_month = '2026-08-01'")
    )
    case_id = str(uuid.uuid4())
    publish(amqp_uri, "death.notified", "funeral", death(case_id))

    def handled_or_waiting():
        waiting = rows(
            engine,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )[0][0]
        return waiting > 0 or rows(engine, "SELECT state FROM death_record") == [("applied",)]

    wait_for(handled_or_waiting, what="the death handled, or waiting for the reconciliation")
    in_flight.commit()
    reconciliation.close()
    wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="assistance's reaction")
    assert rows(engine, "SELECT months, amount_fen FROM overpayment") == [(["2026-07-01"], 110500)]
    assert rows(engine, "SELECT state, amount_fen FROM recovery") == [("open", 110500)]
    engine.dispose()
