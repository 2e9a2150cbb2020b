"""The citizens' pages (phone width): my matters, 结婚生育户口一件事, reporting a death, my benefits."""

from __future__ import annotations

import secrets
from datetime import date

from werkzeug.wrappers import Response

from chassis.entrypoints import http
from gateway.console import words
from gateway.console.base import ConsoleBase, page


class CitizenPages(ConsoleBase):
    """What a citizen reads and applies for."""

    # --- citizens -------------------------------------------------------------------------------

    @http("GET", "/console/me")
    @page
    def console_me(self, request):
        session = self.session(request)
        code, answer = self.api(session, "GET", "/api/v1/matters")
        matters = answer["matters"] if code == 200 else []
        return self.render("me.html", session=session, matters=matters)

    @http("GET", "/console/me/marriage-birth-hukou")
    @page
    def console_marriage_form(self, request, error=None, form=None, status=200):
        session = self.session(request)
        _, offices = self.api(session, "GET", "/api/v1/marriage/offices")
        return self.render(
            "apply_marriage.html",
            status,
            session,
            offices=(offices or {}).get("offices", []),
            error=error,
            form=form or {},
            key=secrets.token_urlsafe(12),
            earliest=date.fromordinal(self.clock.today().toordinal() + 1).isoformat(),
        )

    @http("POST", "/console/me/marriage-birth-hukou")
    @page
    def console_apply_marriage(self, request):
        """结婚生育户口一件事: apply once with a slot; the matter page follows its progress."""
        session, form = self.posted(request)
        body = {
            "office_code": form.get("office_code", ""),
            "slot_start": f"{form.get('slot_date', '')}T{form.get('slot_time', '')}:00+08:00",
            "party_a": {"resident_id": session.actor.id, "name": form.get("name_a", "")},
            "party_b": {"resident_id": form.get("resident_id_b", ""), "name": form.get("name_b", "")},
        }
        code, answer = self.api(session, "POST", "/api/v1/matters/marriage-birth-hukou", body, key=form.get("key"))
        if code >= 400:
            return self.console_marriage_form(request, error=words.refusal(answer), form=form, status=code)
        return Response(status=303, headers={"Location": f"/console/matters/{answer['matter_id']}"})

    @http("GET", "/console/me/death-report")
    @page
    def console_death_form(self, request, error=None, form=None, status=200):
        session = self.session(request)
        return self.render(
            "death_report.html",
            status,
            session,
            error=error,
            form=form or {},
            key=secrets.token_urlsafe(12),
            today=self.clock.today().isoformat(),
            relationships=words.INFORMANTS,
        )

    @http("POST", "/console/me/death-report")
    @page
    def console_report_death(self, request):
        """上报死亡: the family's notice of a death, which applies once for 身后一件事 (the funeral
        service opens the matter, the reporter one of its subjects); the matter page follows it."""
        session, form = self.posted(request)
        body = {
            "deceased": {
                "resident_id": form.get("resident_id", "").strip().upper(),
                "name": form.get("name", "").strip(),
            },
            "date_of_death": form.get("date_of_death", ""),
            "region_code": form.get("region_code", "").strip(),
            "place_of_death": form.get("place_of_death", "").strip() or None,
            "informant_relationship": form.get("informant_relationship") or None,
        }
        code, answer = self.api(session, "POST", "/api/v1/funeral/deaths", body, key=form.get("key"))
        if code >= 400:
            return self.console_death_form(request, error=words.refusal(answer), form=form, status=code)
        return Response(status=303, headers={"Location": f"/console/matters/{answer['matter_id']}"})

    @http("GET", "/console/me/benefits")
    @page
    def console_benefits(self, request):
        """我的待遇: what the API lets a citizen read of their own: the old-age allowance (高龄津贴) and
        its payments, the home-care voucher (养老服务补贴); a 低保 application by its number."""
        session = self.session(request)
        me = session.actor.id
        elder_code, elder = self.api(session, "GET", f"/api/v1/care/elders/{me}")
        _, paid = (
            self.api(session, "GET", f"/api/v1/care/elders/{me}/allowance/payments") if elder_code == 200 else (0, {})
        )
        voucher_code, voucher = self.api(session, "GET", f"/api/v1/care/vouchers/{me}")
        return self.render(
            "benefits.html",
            session=session,
            elder=elder if elder_code == 200 else None,
            allowance_payments=(paid or {}).get("payments", []) if isinstance(paid, dict) else [],
            voucher=voucher if voucher_code == 200 else None,
            application_id=request.args.get("application", "").strip(),
        )
