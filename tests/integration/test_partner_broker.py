"""Partners' broker identities, checked from outside with `pika` (a client the project does not
use): a partner reads its own queue on the partner vhost and the broker refuses it everything else;
each home-care provider receives only its own orders; rotation and revocation lock old logins out."""

from __future__ import annotations

import json
from datetime import date

import pika
import pytest
from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker
from sqlalchemy import create_engine, text

from contracts.subscriptions import PARTNER_EXCHANGE
from tests.helpers import PATIENCE, queue_depth, wait_for
from tests.integration.test_care_orders import ELDER, approve_tekun
from tests.integration.test_marriage_one_matter import CLERK, OFFICE, TODAY, couple

ACCESS_REFUSED = 403


def connect(uri: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(uri))


def consume(connection: pika.BlockingConnection, queue: str, count: int) -> list[dict]:
    """Read `count` messages from `queue` with basic.consume and a prefetch, acking each."""
    channel = connection.channel()
    channel.basic_qos(prefetch_count=10)
    bodies = []
    for method, _properties, body in channel.consume(queue, inactivity_timeout=PATIENCE):
        assert method is not None, f"{queue}: {len(bodies)} of {count} messages in {PATIENCE} s"
        bodies.append(json.loads(body))
        channel.basic_ack(method.delivery_tag)
        if len(bodies) == count:
            break
    channel.cancel()
    channel.close()
    return bodies


def refused(connection: pika.BlockingConnection, attempt) -> int:
    """The reply code with which the broker closes a fresh channel on `attempt(channel)`."""
    channel = connection.channel()
    with pytest.raises(ChannelClosedByBroker) as caught:
        attempt(channel)
    return caught.value.reply_code


def register_marriage(sys_) -> None:
    husband, wife = couple()
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={"office_code": OFFICE, "party_a": husband, "party_b": wife, "declared_not_close_relatives": True},
    )
    assert registered.status_code == 201, registered.text


def partner_rows_unsent(sys_) -> int:
    engine = create_engine(sys_.databases["gateway"])
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM outbox WHERE exchange = :x AND sent_at IS NULL"), {"x": PARTNER_EXCHANGE}
            ).scalar_one()
    finally:
        engine.dispose()


def test_police_reads_its_own_queue_and_the_broker_refuses_it_everything_else(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    police = sys_.partners.provision("police")
    assert police["user"] != "guest" and police["vhost"] != sys_.amqp_uri.rsplit("/", 1)[1]
    register_marriage(sys_)

    connection = connect(police["uri"])
    try:
        (event,) = consume(connection, "partner.police", 1)
        assert event["type"] == "marriage.registered"
        assert set(event["data"]) == {"registration_id", "registered_on", "party_a", "party_b"}

        # declaring a queue of its own, binding one of its own or another's to any exchange
        assert refused(connection, lambda ch: ch.queue_declare("police.mine")) == ACCESS_REFUSED
        assert (
            refused(connection, lambda ch: ch.queue_bind("partner.police", PARTNER_EXCHANGE, "health.#"))
            == ACCESS_REFUSED
        )
        assert refused(connection, lambda ch: ch.queue_bind("partner.police", "amq.topic", "#")) == ACCESS_REFUSED

        # publishing anywhere: into the partner exchange, the default exchange, a built-in one
        def publish(exchange, routing_key):
            def attempt(channel):
                channel.confirm_delivery()
                channel.basic_publish(exchange, routing_key, b"{}")

            return attempt

        assert refused(connection, publish(PARTNER_EXCHANGE, "police.marriage.registered")) == ACCESS_REFUSED
        assert refused(connection, publish("", "partner.police")) == ACCESS_REFUSED
        assert refused(connection, publish("amq.topic", "x")) == ACCESS_REFUSED

        # consuming health's queue, or any service queue by its name
        for queue in ("partner.health", "partner.health.dead", "progress.on_matter_event", "marriage.on_death"):
            assert refused(connection, lambda ch, q=queue: ch.basic_consume(q, lambda *a: None)) == ACCESS_REFUSED
        assert refused(connection, lambda ch: ch.basic_get("partner.medical_insurance")) == ACCESS_REFUSED
    finally:
        connection.close()

    # the services' own vhost is not open to it at all
    services_vhost = sys_.amqp_uri.rsplit("/", 1)[1]
    with pytest.raises(AMQPConnectionError):
        connect(police["uri"].rsplit("/", 1)[0] + "/" + services_vhost)
    # and nothing it tried reached health: its queue holds the one event it is entitled to
    wait_for(lambda: partner_rows_unsent(sys_) == 0, what="every partner row published")
    assert queue_depth(sys_.partner_amqp_uri, "partner.health") == 1


def test_two_care_providers_each_receive_only_their_own_orders(system, manual_clock):
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    first, second = sys_.partners.provision("care_providers", "p-1"), sys_.partners.provision("care_providers", "p-2")
    approve_tekun(sys_.amqp_uri)
    citizen = ("citizen", ELDER)
    wait_for(lambda: sys_.call("GET", f"/api/v1/care/vouchers/{ELDER}", citizen).status_code == 200, what="the voucher")
    ordered = {"p-1": [], "p-2": []}
    for provider, service in (("p-1", "meals"), ("p-2", "bathing"), ("p-1", "cleaning")):
        response = sys_.call(
            "POST",
            "/api/v1/care/orders",
            citizen,
            json={"resident_id": ELDER, "service": service, "provider": provider, "price_fen": 1000},
        )
        assert response.status_code in (200, 201), response.text
        ordered[provider].append(response.json()["order_id"])

    for credentials, provider in ((first, "p-1"), (second, "p-2")):
        connection = connect(credentials["uri"])
        try:
            received = consume(connection, f"partner.care_providers.{provider}", len(ordered[provider]))
            assert sorted(e["data"]["order_id"] for e in received) == sorted(ordered[provider])
            assert {e["data"]["provider"] for e in received} == {provider}
            assert all("resident_id" not in e["data"] for e in received)
            other = "p-2" if provider == "p-1" else "p-1"
            queue = f"partner.care_providers.{other}"
            assert refused(connection, lambda ch, q=queue: ch.basic_consume(q, lambda *a: None)) == ACCESS_REFUSED
        finally:
            connection.close()
    # once the feed has published everything, nothing else is waiting for either provider
    wait_for(lambda: partner_rows_unsent(sys_) == 0, what="every partner row published")
    assert queue_depth(sys_.partner_amqp_uri, "partner.care_providers.p-1") == 0
    assert queue_depth(sys_.partner_amqp_uri, "partner.care_providers.p-2") == 0


def test_rotation_and_revocation_lock_the_old_login_out(system):
    sys_ = system()
    old = sys_.partners.provision("health")
    connect(old["uri"]).close()
    new = sys_.partners.rotate("health")
    assert new["password"] != old["password"]
    with pytest.raises(AMQPConnectionError):
        connect(old["uri"])
    connection = connect(new["uri"])
    assert connection.channel().queue_declare("partner.health", passive=True).method.queue == "partner.health"
    connection.close()
    sys_.partners.revoke("health")
    with pytest.raises(AMQPConnectionError):
        connect(new["uri"])
    # an organisation's code needs an organisation; an organisation needs a code that has them
    with pytest.raises(ValueError):
        sys_.partners.provision("care_providers")
    with pytest.raises(ValueError):
        sys_.partners.provision("police", "p-1")
    with pytest.raises(ValueError):
        sys_.partners.provision("care_providers", "p.1.#")
