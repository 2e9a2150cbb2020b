"""The case pages beyond the 低保 application: a funeral case with what the death changed in
assistance and care (身后一件事), a household (its members and entitlements, where a 复核 starts),
a child, an elder and a social organisation, and the look-up page that reaches them.

A child's and an elder's API routes take the person's resident ID in their path; the console never
puts one in a URL (URLs end up in logs, browser history and Referer headers), so those pages are
reached by a POST form (the ID in the body, the CSRF token with it) and answer at a fixed path.
A record outside the caller's area reads as not found, as every case page answers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from nameko.exceptions import UnknownService
from werkzeug.wrappers import Response

from chassis.entrypoints import http
from gateway.console.base import ConsoleBase, Session, page

HIDDEN = (403, 404, 422)  # refused, not there, not an id: the same not-found page


class CasePages(ConsoleBase):
    """Funeral cases, households, children, elders, organisations."""

    def _part(self, session: Session, path: str) -> tuple[int, dict | None]:
        """A section of a page from another service: its answer, or (503, None) when that service
        is not running (the page still shows what it has)."""
        try:
            code, answer = self.api(session, "GET", path)
        except UnknownService:
            return 503, None
        return code, answer if code == 200 else None

    def _case(self, session: Session, template: str, path: str, title: str, **parts) -> Response:
        code, record = self.api(session, "GET", path)
        if code in HIDDEN:
            return self.not_found(session)
        if code != 200:
            return self.render("error.html", code, session, title=title, detail=record.get("detail"))
        found: dict[str, Any] = {}
        down: set[str] = set()
        for name, part in parts.items():
            code, found[name] = self._part(session, part)
            if code == 503:
                down.add(name)
        return self.render(template, session=session, record=record, down=down, **found)

    @http("GET", "/console/lookup")
    @page
    def console_lookup(self, request):
        """查找: an elder or a child by resident ID (posted), an organisation by its number."""
        return self.render("lookup.html", session=self.session(request))

    @http("GET", "/console/funeral-cases/<case_id>")
    @page
    def console_funeral_case(self, request, case_id):
        case = quote(case_id, safe="")
        return self._case(
            self.session(request),
            "funeral_case.html",
            f"/api/v1/funeral/cases/{case}",
            "无法打开殡葬案件",
            assistance=f"/api/v1/after-death/{case}/assistance",
            care=f"/api/v1/after-death/{case}/care",
        )

    @http("GET", "/console/households/<household_id>")
    @page
    def console_household(self, request, household_id):
        household = quote(household_id, safe="")
        return self._case(
            self.session(request),
            "household.html",
            f"/api/v1/assistance/households/{household}",
            "无法打开家庭",
            payments=f"/api/v1/assistance/households/{household}/payments",
        )

    @http("POST", "/console/children")
    @page
    def console_child(self, request):
        session, form = self.posted(request)
        resident = quote(form.get("resident_id", "").strip().upper(), safe="")
        if not resident:
            return self.not_found(session)
        return self._case(session, "child.html", f"/api/v1/care/children/{resident}", "无法打开儿童档案")

    @http("POST", "/console/elders")
    @page
    def console_elder(self, request):
        session, form = self.posted(request)
        resident = quote(form.get("resident_id", "").strip().upper(), safe="")
        if not resident:
            return self.not_found(session)
        return self._case(
            session,
            "elder.html",
            f"/api/v1/care/elders/{resident}",
            "无法打开老年人档案",
            payments=f"/api/v1/care/elders/{resident}/allowance/payments",
        )

    @http("GET", "/console/organisations/lookup")
    @page
    def console_organisation_lookup(self, request):
        self.session(request)
        wanted = request.args.get("organisation", "").strip()
        return Response(status=303, headers={"Location": f"/console/organisations/{quote(wanted, safe='')}"})

    @http("GET", "/console/organisations/<organisation_id>")
    @page
    def console_organisation(self, request, organisation_id):
        return self._case(
            self.session(request),
            "organisation.html",
            f"/api/v1/charity/organisations/{quote(organisation_id, safe='')}",
            "无法打开社会组织",
        )
