"""Operations (运维) over HTTP for the bureau's administrators: the dead letters of every consumer
queue of the services' vhost, with the reasons the chassis put in their headers, and replay.

Both are `chassis.deadletters`, the operations team's command-line tool, behind the API's
authentication (admins only) and Idempotency-Key; a replay is audited in the gateway's audit log
(who, which queue, how many). Reading parks nothing and moves nothing: the messages read are put
back (basic_reject with requeue) as the tool does."""

from __future__ import annotations

from amqp.exceptions import NotFound as QueueNotFound
from kombu import Connection
from nameko.dependency_providers import Config

from chassis.deadletters import parked, replay
from chassis.errors import NotFound
from chassis.topology import dead_queue_name
from contracts import operations as o
from contracts.roles import ADMIN
from contracts.subscriptions import SUBSCRIPTIONS
from gateway.api import route

DEAD_LETTERS = "/api/v1/operations/dead-letters"
SHOWN = 50  # the first this many of a queue's dead letters are listed (the depth counts them all)


class OperationsRoutes:
    """Mixed into the gateway service (which provides audit and its config)."""

    config = Config()

    @route(
        "GET",
        DEAD_LETTERS,
        roles=(ADMIN,),
        tag="operations",
        summary="Every consumer queue's dead letters (死信): how many, and the first of them with their reasons",
        response=o.DeadLetterListSchema,
    )
    def dead_letters(self, actor, body):
        amqp_uri, queues = self.config["AMQP_URI"], []
        with Connection(amqp_uri, connect_timeout=5) as conn:
            channel = conn.channel()
            for name in sorted(SUBSCRIPTIONS):
                try:
                    _, depth, _ = channel.queue_declare(dead_queue_name(name), passive=True)
                except QueueNotFound:  # not declared yet (its consumer has not started): nothing parked
                    channel, depth = conn.channel(), 0
                queues.append(
                    {"queue": name, "depth": depth, "messages": parked(amqp_uri, name, SHOWN) if depth else []}
                )
        return {"queues": queues}

    @route(
        "POST",
        DEAD_LETTERS + "/<queue>/replay",
        roles=(ADMIN,),
        tag="operations",
        summary="Replay a queue's dead letters (重放) once their cause is fixed: back to the queue, attempts reset "
        "(the consumer's inbox makes a replay of what was handled harmless); audited",
        body=o.ReplayRequestSchema,
        forward=False,
        response=o.ReplayedSchema,
    )
    def replay_dead_letters(self, actor, body, queue):
        if queue not in SUBSCRIPTIONS:
            raise NotFound(f"no consumer queue {queue}")
        moved = replay(self.config["AMQP_URI"], queue, body.get("limit"))
        self.audit.record(actor, "dead_letters.replay", f"queue-{queue}", "replayed", replayed=moved)
        return {"queue": queue, "replayed": moved}
