"""The caseworkers' pages: work queues with claiming, the 低保 application and its steps, a matter."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from werkzeug.wrappers import Response

from chassis.entrypoints import http
from gateway.console import words
from gateway.console.base import ConsoleBase, page


class CaseworkPages(ConsoleBase):
    """Work queues, applications and matters."""

    # --- work queues ----------------------------------------------------------------------------

    @http("GET", "/console/queues")
    @page
    def console_queues(self, request):
        session = self.session(request)
        status, answer = self.api(session, "GET", "/api/v1/work-queues")
        if status != 200:
            return self.render("error.html", status, session, title="无法打开工作队列", detail=answer.get("detail"))
        return self.render("queues.html", session=session, queues=answer["queues"])

    def _queue_page(self, request, session, queue_name, notice=None, status=200):
        filters = {k: request.values.get(k) for k in ("state", "claim", "overdue", "page")}
        code, answer = self.api(session, "GET", f"/api/v1/work-queues/{queue_name}", query=filters)
        if code == 404 or code == 403:
            return self.not_found(session)
        if code != 200:
            return self.render("error.html", code, session, title="无法打开工作队列", detail=answer.get("detail"))
        partial = request.headers.get("HX-Request") == "true"
        return self.render(
            "queue_table.html" if partial else "queue.html",
            status,
            session,
            fragment=partial,
            queue=answer,
            filters=filters,
            queue_notice=notice,
            key=secrets.token_urlsafe(12),
        )

    @http("GET", "/console/queues/<queue_name>")
    @page
    def console_queue(self, request, queue_name):
        return self._queue_page(request, self.session(request), queue_name)

    @http("POST", "/console/queues/<queue_name>/items/<record_id>/<what>")
    @page
    def console_claim(self, request, queue_name, record_id, what):
        """认领 / 释放 from the queue's table; answers the table again (htmx), its filters and page kept."""
        session, form = self.posted(request)
        if what not in ("claim", "release"):
            return self.not_found(session)
        code, answer = self.api(
            session, "POST", f"/api/v1/work-queues/{queue_name}/items/{record_id}/{what}", key=form.get("key")
        )
        notice = None if code < 400 else words.refusal(answer)
        return self._queue_page(request, session, queue_name, notice, 200 if code < 400 else code)

    # --- the 低保 application and its household ----------------------------------------------------

    @http("GET", "/console/applications/<application_id>")
    @page
    def console_application(self, request, application_id, notice=None, status=200):
        session = self.session(request)
        if notice is None and request.args.get("done") in words.APPLICATION_STEPS:
            notice = words.APPLICATION_STEPS[request.args["done"]] + "：已完成"
        code, application = self.api(session, "GET", f"/api/v1/assistance/applications/{application_id}")
        if code in (403, 404, 422):
            return self.not_found(session)
        if code != 200:
            return self.render("error.html", code, session, title="无法打开", detail=application.get("detail"))
        _, household = self.api(session, "GET", f"/api/v1/assistance/households/{application['household_id']}")
        _, payments = self.api(session, "GET", f"/api/v1/assistance/households/{application['household_id']}/payments")
        return self.render(
            "application.html",
            status,
            session,
            application=application,
            household=household if isinstance(household, dict) and "members" in household else None,
            payments=(payments or {}).get("payments", []) if isinstance(payments, dict) else [],
            notice=notice,
            key=secrets.token_urlsafe(12),
            today=self.clock.today(),
        )

    @http("GET", "/console/applications/lookup")
    @page
    def console_application_lookup(self, request):
        """A citizen's 低保 application by the number on its receipt (the API has no list of a
        citizen's applications); the application page reads it as the API lets them."""
        self.session(request)
        wanted = request.args.get("application", "").strip()
        return Response(status=303, headers={"Location": f"/console/applications/{quote(wanted, safe='')}"})

    @http("POST", "/console/applications/<application_id>/<step>")
    @page
    def console_application_step(self, request, application_id, step):
        """受理, 核对, 公示, 审批 and the applicant's 撤回: the API route of the step, the page shown
        again with the outcome (the API decides who may take it)."""
        session, form = self.posted(request)
        if step not in words.APPLICATION_STEPS:
            return self.not_found(session)
        body = None
        if step == "decision":
            body = {"decision": form.get("decision", ""), "reason": form.get("reason", "")}
        elif step == "withdrawal":
            body = {"reason": form.get("reason", "")}
        code, answer = self.api(
            session, "POST", f"/api/v1/assistance/applications/{application_id}/{step}", body, key=form.get("key")
        )
        if code == 404:
            return self.not_found(session)
        if code < 400:  # post/redirect/get: reloading the page reads it, never sends the step again
            return Response(status=303, headers={"Location": f"/console/applications/{application_id}?done={step}"})
        return self.console_application(
            request, application_id=application_id, notice=words.refusal(answer), status=code
        )

    # --- matters (一件事) -------------------------------------------------------------------------

    @http("GET", "/console/matters/<matter_id>")
    @page
    def console_matter(self, request, matter_id):
        session = self.session(request)
        code, matter = self.api(session, "GET", f"/api/v1/matters/{matter_id}")
        if code in (403, 404, 422):
            return self.not_found(session)
        if code != 200:
            return self.render("error.html", code, session, title="无法打开", detail=matter.get("detail"))
        fragment = request.headers.get("HX-Request") == "true"
        return self.render("matter_steps.html" if fragment else "matter.html", session=session, matter=matter)
