"""Partner data sources for the household economic check (核对), as the simulator serves them.

Each department answers `POST /sources/<source>` with body `{"resident_ids": […]}` (1 to
CHECK_BATCH_LIMIT distinct IDs) and what it holds about each person, the way a real data-sharing
gateway's batch 核对 would: `{"answers": [{"resident_id": …, "record": {…}}, …]}`, an ID that is not
a valid resident ID answered `{"resident_id": …, "error": …}` while the rest are answered. The
resident IDs travel in the body, never in the URL (URLs end up in access logs, proxies' and the
source's own); every request must carry the bureau's bearer token for that source (`tokens`), else
401. Every URL requested is
kept in `requested_urls`, so a test can check that none holds an ID number. The answers are deterministic per person, can be
pinned per person for tests (`facts`), and a source can be stalled to exercise timeouts: a query to
a source in `slow_sources` gets no answer until the source is taken out of that set (or
`slow_seconds` pass), so a test heals it at a moment of its choosing instead of racing a timer.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time

from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from contracts.assistance import CHECK_BATCH_LIMIT, CHECK_SOURCES
from contracts.person import InvalidResidentId, ResidentId

# The bureau's credential at each source in `make run` and the tests; a deployment sets its own
# (assistance config CHECK_SOURCES_TOKENS / CHECK_SOURCES_TOKEN).
DEV_SOURCE_TOKEN = "dev-only-check-sources-token"
_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")  # what a full resident ID number looks like


def default_facts(source: str, resident_id: str) -> dict:
    """Plausible, repeatable records: most people have little; a few have a car or a flat."""
    roll = int(hashlib.sha256(f"{source}:{resident_id}".encode()).hexdigest()[:8], 16) % 100
    return {
        "social_insurance": {"pension_monthly_fen": 0 if roll < 70 else 180000, "employed": roll >= 85},
        "vehicles": {"vehicles": [] if roll < 95 else [{"plate": "浙D·12345", "value_fen": 3500000}]},
        "bank_deposits": {"deposits_fen": (roll % 10) * 50000},
        "real_estate": {"properties": 1 if roll < 90 else 2},
        "tax": {"annual_taxable_income_fen": 0 if roll < 90 else 9000000},
        "deaths": {"deceased": False},
        "hukou": {"registered": True},
        "business": {"businesses": [] if roll < 97 else [{"name": "个体工商户", "capital_fen": 5000000}]},
        "housing_fund": {"balance_fen": 0 if roll < 80 else 2500000},
    }[source]


class PartnerData:
    def __init__(
        self,
        facts: dict | None = None,
        slow_sources=(),
        slow_seconds: float = 300.0,
        failing_sources=(),
        tokens: dict | None = None,
    ):
        self.facts = facts or {}  # (source, resident id) -> answer
        self.tokens = tokens or dict.fromkeys(CHECK_SOURCES, DEV_SOURCE_TOKEN)  # source -> bearer token
        self.requested_urls: list[str] = []  # every URL asked for, answered or not
        self.refused = 0  # requests without the source's token
        self.slow_sources, self.slow_seconds = set(slow_sources), slow_seconds
        self.failing_sources = set(failing_sources)
        self.queries: list[tuple[str, str]] = []  # what was asked, for tests and demos
        self.stalled_now = self.most_stalled_at_once = 0  # queries held by stalled sources
        self.urls = Map([Rule("/sources/<source>", endpoint="source", methods=["POST"])])

    def urls_with_resident_ids(self) -> list[str]:
        """Requested URLs that hold anything shaped like a full resident ID (percent-decoded)."""
        from urllib.parse import unquote

        return [url for url in self.requested_urls if _ID_LIKE.search(unquote(url))]

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requested_urls.append(request.url)
        try:
            _, args = self.urls.bind_to_environ(environ).match()
        except Exception:
            return Response("not found", status=404)(environ, start_response)
        return self.answer(request, args["source"])(environ, start_response)

    def answer(self, request, source: str) -> Response:
        if source not in CHECK_SOURCES:
            return _json(404, {"error": f"no source {source}"})
        expected = self.tokens.get(source)
        if not expected or request.headers.get("Authorization") != f"Bearer {expected}":
            self.refused += 1
            return _json(401, {"error": "the bureau's token for this source is required"})
        body = request.get_json(silent=True)
        resident_ids = body.get("resident_ids") if isinstance(body, dict) else None
        if (
            not isinstance(resident_ids, list)
            or not 1 <= len(resident_ids) <= CHECK_BATCH_LIMIT
            or not all(isinstance(r, str) for r in resident_ids)
            or len(set(resident_ids)) != len(resident_ids)
        ):
            return _json(400, {"error": f'body must be {{"resident_ids": [1 to {CHECK_BATCH_LIMIT} distinct IDs]}}'})
        answers, asked = [], []
        for resident_id in resident_ids:
            try:
                ResidentId.parse(resident_id)
            except InvalidResidentId as exc:
                answers.append({"resident_id": resident_id, "error": exc.reason})
                continue
            asked.append(resident_id)
            self.queries.append((source, resident_id))
        if source in self.slow_sources:
            self.stalled_now += len(asked)  # subjects held, not requests
            self.most_stalled_at_once = max(self.most_stalled_at_once, self.stalled_now)
            stalled_until = time.monotonic() + self.slow_seconds
            while source in self.slow_sources and time.monotonic() < stalled_until:
                time.sleep(0.05)
            self.stalled_now -= len(asked)
        if source in self.failing_sources:
            return _json(503, {"error": "source unavailable"})
        for resident_id in asked:
            record = self.facts.get((source, resident_id), default_facts(source, resident_id))
            answers.append({"resident_id": resident_id, "record": record})
        return _json(200, {"answers": answers})


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def serve(app: PartnerData, port: int, host: str = "127.0.0.1"):
    """Serve in a background thread (green under eventlet); `.shutdown()` stops it and lets every
    stalled query go."""
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = server.shutdown

    def shutdown():
        app.slow_sources.clear()
        stop()

    server.shutdown = shutdown
    return server
