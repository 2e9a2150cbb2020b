"""The national registry of offices (跨省通办: a couple registers at any of them). A mixin of the marriage
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

from sqlalchemy import select

from chassis import (
    Actor,
    Forbidden,
    InvalidInput,
    rpc,
)
from chassis.regions import division_name, region_prefix, require_known_division
from contracts.roles import ADMIN
from services.marriage.exceptions import (
    UnknownRecord,
)
from services.marriage.models import (
    Office,
)
from services.marriage.schemas import (
    OfficeListSchema,
    OfficeRequestSchema,
    OfficeSchema,
    dump,
    load,
)


class Offices:
    """Mixed into the marriage service; uses its db, audit."""

    # --- the national registry of offices (跨省通办: a couple registers at any of them) ------------

    @rpc
    def put_office(self, actor, office_code, request):
        """Add an office at a GB/T 2260 division, or change its name and slots (admins)."""
        actor, data = Actor.from_dict(actor), load(OfficeRequestSchema, request)
        if actor.role != ADMIN:
            raise Forbidden("only administrators keep the registry of offices")
        require_known_division(office_code, "office_code")
        office = self.db.get(Office, office_code, with_for_update=True)
        created = office is None
        if created:
            office = Office(code=office_code)
            self.db.add(office)
        office.name, office.slot_minutes, office.slot_capacity = (
            data["name"],
            data["slot_minutes"],
            data["slot_capacity"],
        )
        self.audit.record(
            actor,
            "office.add" if created else "office.change",
            f"office-{office_code}",
            "added" if created else "changed",
            slot_minutes=office.slot_minutes,
            slot_capacity=office.slot_capacity,
        )
        return self._office_view(office)

    @rpc
    def list_offices(self, region_code=None):
        query = select(Office).order_by(Office.code)
        if region_code:
            query = query.where(Office.code.startswith(region_prefix(region_code), autoescape=True))
        return dump(OfficeListSchema, {"offices": [self._office_view(o) for o in self.db.execute(query).scalars()]})

    @rpc
    def get_office(self, office_code):
        office = self.db.get(Office, office_code)
        if office is None:
            raise UnknownRecord(f"no registration office {office_code}")
        return self._office_view(office)

    def _office_view(self, office: Office) -> dict:
        return dump(
            OfficeSchema,
            {
                "office_code": office.code,
                "name": office.name,
                "division": division_name(office.code),
                "slot_minutes": office.slot_minutes,
                "slot_capacity": office.slot_capacity,
            },
        )

    def _office(self, office_code: str, for_update: bool = False) -> Office:
        """The office named in a request, or a 422 naming `office_code`."""
        office = self.db.get(Office, office_code, with_for_update=for_update)
        if office is None:
            raise InvalidInput(
                f"no registration office {office_code}",
                errors={"office_code": ["no office of the national registry has this code"]},
            )
        return office
