"""Elderly care (养老) over HTTP: the elderly registry and the old-age allowance granted without
an application. Rules and area scoping live in the care service; these routes check the role,
validate the body against the contract and pass the caller along."""
from __future__ import annotations

from chassis import ServiceRpc
from contracts import care as c
from gateway.api import route, wire

CITIZEN, CLERK, ADMIN = "citizen", "clerk", "admin"
ELDERS = "/api/v1/care/elders"


class CareRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints and dependencies)."""

    care = ServiceRpc("care")

    @route("POST", ELDERS + "/import", roles=(ADMIN,), tag="care",
           summary="Feed the elderly registry from the population registry (age and sex from the ID)",
           body=c.ElderImportSchema, response=c.ImportViewSchema)
    def import_elders(self, actor, body):
        return self.care.import_people(actor.as_dict(), wire(c.ElderImportSchema, body))

    @route("GET", ELDERS + "/<resident_id>", roles=(CITIZEN, CLERK, ADMIN), tag="care",
           summary="A person of the registry, with the old-age allowance (高龄津贴) when enrolled",
           response=c.ElderViewSchema)
    def get_elder(self, actor, body, resident_id):
        return self.care.get_elder(actor.as_dict(), resident_id)

    @route("POST", "/api/v1/care/allowance-job", roles=(ADMIN,), tag="care",
           summary="Run the daily 高龄津贴 enrolment now (idempotent; catches up any missed days)",
           response=c.AllowanceJobViewSchema)
    def run_allowance_job(self, actor, body):
        return self.care.run_allowance_job(actor.as_dict())
