"""Dependencies of the assistance service beyond the chassis: the partner data sources of the
household economic check (核对).

Every partner department answers `POST {CHECK_SOURCES_URL}/sources/<source>` with body
`{"resident_ids": […]}` (at most contracts.assistance.CHECK_BATCH_LIMIT) and what it holds about each
person: `{"answers": [{"resident_id": …, "record": {…}} | {"resident_id": …, "error": "…"}]}`, the
batch 核对 that the data-sharing platforms offer. The IDs travel in the body, never in a URL; every
request carries the bureau's bearer token for that source. A check asks every source at once (a
green thread per request, each with its own hard deadline, `CHECK_TIMEOUT_SECONDS`) and returns one
`Fetched` per subject per source: ok with the record, or failed / timeout with the error. Nothing is
ever turned into an empty answer: a source that did not answer, or answered nothing for a subject,
is a failure for that subject.

Config:
- `CHECK_SOURCES_URL`: base URL of the data-sharing gateway (the partner simulator in tests).
- `CHECK_SOURCES_TOKENS`: `{source: bearer token}`, the bureau's credential at each source;
  `CHECK_SOURCES_TOKEN`: one token for every source not listed there. One of them is required.
- `CHECK_TIMEOUT_SECONDS` (default 3): per request, connect and answer included.
- `CHECK_BATCH_SIZE` (default 100, at most CHECK_BATCH_LIMIT): subjects per request to a source.
- `CHECK_FAILURE_POLICY` (default "fail" for every source): `{source: "fail" | "last_known"}`;
  "last_known" lets a check count as complete with the subject's last successful fetch of that
  source from an earlier check.
- `CHECK_CONCURRENCY` (default 20): requests in flight at once, per check.

The requests go through one pool of kept-alive connections per process (urllib3), shared by every
check. One request per subject per source spent 1.3 ms of the service's CPU per fetch, and the
re-check of 100,000 households would have made 1.35 million requests (docs/bench/benchmarks.md); a batch
of 100 is 9 requests for 100 people. A proxy in the environment (HTTPS_PROXY, NO_PROXY) is read
once, at start.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import eventlet
import requests.utils
import urllib3
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import MaxRetryError
from urllib3.exceptions import TimeoutError as TransportTimeout

from chassis.clock import clock_for
from chassis.logs import mask_resident_ids
from contracts.assistance import CHECK_BATCH_LIMIT, CHECK_SOURCES

FAILURE_MODES = ("fail", "last_known")
OK, FAILED, TIMEOUT = "ok", "failed", "timeout"


@dataclass(frozen=True)
class Fetched:
    resident_id: str
    source: str
    status: str  # ok | failed | timeout
    fetched_at: datetime
    latency_ms: int
    result: dict | None  # the source's answer, only when ok
    error: str | None  # why not, when failed or timed out (resident IDs masked)


class CheckSources:
    """The worker's client for the partner data sources."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        failure_policy: dict,
        clock,
        concurrency: int = 20,
        tokens: dict | None = None,
        connections: int | None = None,
        batch_size: int = 100,
    ):
        self.base_url = base_url.rstrip("/")
        self.tokens = dict(tokens or {})  # source -> bearer token
        self.timeout = timeout
        self.failure_policy = dict(failure_policy)
        self.clock = clock
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.http = connection_pool(self.base_url, connections or concurrency)

    def policy_for(self, source: str) -> str:
        return self.failure_policy.get(source, "fail")

    def fetch_all(self, resident_ids, sources) -> list[Fetched]:
        """Every subject × every source, concurrently, in batches of subjects per source; returned
        in the order subject by subject, source by source."""
        subjects = list(dict.fromkeys(resident_ids))
        batches = [subjects[i : i + self.batch_size] for i in range(0, len(subjects), self.batch_size)]
        asks = [(source, batch) for batch in batches for source in sources]
        if not asks:
            return []
        pool = GreenPool(min(self.concurrency, len(asks)))
        fetched = {
            (f.resident_id, f.source): f for done in pool.imap(lambda ask: self._fetch(*ask), asks) for f in done
        }
        return [fetched[(resident_id, source)] for resident_id in subjects for source in sources]

    def _fetch(self, source: str, resident_ids: list[str]) -> list[Fetched]:
        """One request to one source about a batch of subjects; a failure of the request is every
        subject's failure."""
        fetched_at, started = self.clock.now(), time.monotonic()
        status, answers, error = FAILED, {}, None
        deadline = eventlet.Timeout(self.timeout)  # the whole request, however the bytes trickle in
        try:
            response = self.http.request(
                "POST",
                f"{self.base_url}/sources/{source}",
                body=json.dumps({"resident_ids": resident_ids}).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Authorization": f"Bearer {self.tokens.get(source, '')}",
                },
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
            )
            if response.status != 200:
                error = f"HTTP {response.status}: {response.data[:200].decode('utf-8', 'replace')}"
            else:
                answers, error = _answers(json.loads(response.data))
                status = OK if error is None else FAILED
        except eventlet.Timeout as exc:
            if exc is not deadline:
                raise
            status, error = TIMEOUT, f"no answer within {self.timeout:g} s"
        except ValueError as exc:  # invalid JSON (or not UTF-8)
            error = f"the answer is not JSON: {exc}"
        except TransportError as exc:
            cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
            if isinstance(cause, TransportTimeout):
                status, error = TIMEOUT, f"no answer within {self.timeout:g} s"
            else:
                error = f"{type(cause).__name__}: {cause}"
        finally:
            deadline.cancel()
        latency_ms = int((time.monotonic() - started) * 1000)

        def one(resident_id: str) -> Fetched:
            if status != OK:
                outcome, record, why = status, None, error
            else:
                answer = answers.get(resident_id)
                if answer is None:
                    outcome, record, why = FAILED, None, "the source's answer has nothing for this subject"
                elif "error" in answer:
                    outcome, record, why = FAILED, None, f"the source refused this subject: {answer['error']}"
                else:
                    outcome, record, why = OK, answer["record"], None
            return Fetched(
                resident_id=resident_id,
                source=source,
                status=outcome,
                fetched_at=fetched_at,
                latency_ms=latency_ms,
                result=record,
                error=mask_resident_ids(why)[:1000] if why else None,
            )

        return [one(resident_id) for resident_id in resident_ids]


def _answers(body) -> tuple[dict[str, dict], str | None]:
    """A source's batch answer, by subject: {resident ID: {"record": {…}} or {"error": "…"}}; or why
    the answer as a whole cannot be read."""
    answers = body.get("answers") if isinstance(body, dict) else None
    if not isinstance(answers, list):
        return {}, 'the answer is not {"answers": [...]}'
    by_subject = {}
    for answer in answers:
        if not isinstance(answer, dict) or not isinstance(answer.get("resident_id"), str):
            return {}, "an answer without a resident_id"
        if isinstance(answer.get("record"), dict):
            by_subject[answer["resident_id"]] = {"record": answer["record"]}
        elif isinstance(answer.get("error"), str):
            by_subject[answer["resident_id"]] = {"error": answer["error"][:200]}
        else:
            return {}, "an answer with neither a record (a JSON object) nor an error"
    return by_subject, None


def connection_pool(base_url: str, size: int) -> urllib3.PoolManager:
    """Kept-alive connections to the sources, at most `size` kept per host (more are opened when
    needed and closed after). A fetch is tried once more if its connection failed before an answer
    (a kept-alive one the source had just closed), within the same deadline; a source that
    answers, whatever it answers, is not asked again: that is the check's to report."""
    once_more = urllib3.Retry(total=1, connect=1, read=1, status=0, redirect=0, allowed_methods=None)
    options: dict = {"maxsize": size, "block": False, "retries": once_more}
    proxy = requests.utils.get_environ_proxies(base_url).get(base_url.split(":", 1)[0])
    return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)


class EconomicCheckSources(DependencyProvider):
    def setup(self):
        config = self.container.config
        base_url = config.get("CHECK_SOURCES_URL")
        if not base_url:
            raise ValueError("config CHECK_SOURCES_URL is required: the partner data sources of 核对")
        failure_policy = dict(config.get("CHECK_FAILURE_POLICY") or {})
        unknown = set(failure_policy) - set(CHECK_SOURCES)
        bad = {s: m for s, m in failure_policy.items() if m not in FAILURE_MODES}
        if unknown or bad:
            raise ValueError(
                f"CHECK_FAILURE_POLICY: unknown sources {sorted(unknown)}, modes other than {FAILURE_MODES}: {bad}"
            )
        tokens = config.get("CHECK_SOURCES_TOKENS") or {}
        tokens = dict(json.loads(tokens) if isinstance(tokens, str) else tokens)  # from the environment: JSON
        if config.get("CHECK_SOURCES_TOKEN"):
            tokens = {source: tokens.get(source, config["CHECK_SOURCES_TOKEN"]) for source in CHECK_SOURCES}
        missing = [source for source in CHECK_SOURCES if not tokens.get(source)]
        if missing:
            raise ValueError(f"config CHECK_SOURCES_TOKENS / CHECK_SOURCES_TOKEN: no token for {missing}")
        batch_size = int(config.get("CHECK_BATCH_SIZE", 100))
        if not 1 <= batch_size <= CHECK_BATCH_LIMIT:
            raise ValueError(f"config CHECK_BATCH_SIZE must be 1 to {CHECK_BATCH_LIMIT}, the sources' limit")
        self.client = CheckSources(
            base_url,
            float(config.get("CHECK_TIMEOUT_SECONDS", 3)),
            failure_policy,
            clock_for(config),
            int(config.get("CHECK_CONCURRENCY", 20)),
            tokens,
            # every worker's checks at once share the pool: that many connections are kept
            connections=int(config.get("CHECK_CONCURRENCY", 20)) * int(config.get("max_workers", 10)),
            batch_size=batch_size,
        )

    def get_dependency(self, worker_ctx):
        return self.client
