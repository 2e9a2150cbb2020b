"""补录: back-entry of historical records. A mixin of the marriage
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chassis import (
    Actor,
    Conflict,
    InvalidInput,
    rpc,
)
from contracts.person import ResidentId
from services.marriage import rules
from services.marriage.exceptions import (
    AlreadyMarried,
    RegistrationRefused,
    UnknownRecord,
)
from services.marriage.models import (
    Certificate,
    Marriage,
    Spouse,
)
from services.marriage.schemas import (
    BackEnteredDivorceRequestSchema,
    BackEntryRequestSchema,
    load,
)


class BackEntry:
    """Mixed into the marriage service; uses its db, audit, clock."""

    # --- back-entry of historical records (补录) ------------------------------------------------

    @rpc
    def back_enter_marriage(self, actor, request):
        """补录: a registrar enters a marriage registered before the registry (and its divorce, if
        it ended so) from its evidence. Marked back-entered, audited with the evidence; a standing
        one makes its parties married (the bigamy check counts it), and any marriage it would
        overlap is refused."""
        actor, data = Actor.from_dict(actor), load(BackEntryRequestSchema, request)
        actor.require_staff_in(data["office_code"])
        self._office(data["office_code"])
        a, b = data["party_a"], data["party_b"]
        married_on, divorced_on = data["married_on"], data["divorced_on"]
        if divorced_on is None and data["divorce_certificate_number"]:
            raise InvalidInput(
                "a divorce certificate without a divorce date",
                errors={"divorced_on": ["required with its certificate"]},
            )
        others = [
            rules.Span(
                f"{key}.resident_id", other.registered_on, other.ended_on if other.state != "registered" else None
            )
            for key, party in (("party_a", a), ("party_b", b))
            for other in self._marriages_of(party["resident_id"])
        ]
        refusals = rules.check_back_entry(
            ResidentId.parse(a["resident_id"]),
            ResidentId.parse(b["resident_id"]),
            married_on,
            divorced_on,
            self.clock.today(),
            others,
        )
        if refusals:
            self._refuse(
                actor,
                "marriage.back_enter",
                f"office-{data['office_code']}",
                refusals,
                "back-entry",
                RegistrationRefused,
            )
        for field, number in (
            ("certificate_number", data["certificate_number"]),
            ("divorce_certificate_number", data["divorce_certificate_number"]),
        ):
            if number and self.db.get(Certificate, number) is not None:
                raise Conflict(
                    "the certificate number is in the registry already", errors={field: ["already recorded"]}
                )
        standing = divorced_on is None
        marriage = Marriage(
            id=str(uuid.uuid4()),
            office_code=data["office_code"],
            registered_on=married_on,
            party_a_id=a["resident_id"],
            party_a_name=a["name"],
            party_b_id=b["resident_id"],
            party_b_name=b["name"],
            state="registered" if standing else "divorced",
            ended_on=divorced_on,
            new_style_wedding_notice_given=False,
            policy_version="back-entry: the law of the day, not re-applied",
            registered_by=actor.id,
            back_entered=True,
            evidence=data["evidence"],
        )
        self.db.add(marriage)
        self.db.flush()
        if standing:
            self._marry(actor, marriage, "marriage.back_enter")
        if data["certificate_number"]:
            self.db.add(
                Certificate(
                    number=data["certificate_number"],
                    kind="marriage",
                    marriage_id=marriage.id,
                    issued_on=married_on,
                    state="valid" if standing else "void",
                    void_reason=None if standing else f"marriage dissolved by divorce on {divorced_on} (back-entered)",
                )
            )
        if data["divorce_certificate_number"]:
            self.db.add(
                Certificate(
                    number=data["divorce_certificate_number"],
                    kind="divorce",
                    marriage_id=marriage.id,
                    issued_on=divorced_on,
                    state="valid",
                )
            )
        self.audit.record(
            actor,
            "marriage.back_enter",
            f"marriage-{marriage.id}",
            marriage.state,
            back_entered=True,
            evidence_kind=data["evidence"]["kind"],
            evidence_reference=data["evidence"]["reference"],
            married_on=married_on.isoformat(),
            divorced_on=divorced_on.isoformat() if divorced_on else None,
        )
        return self._registration(marriage, data["certificate_number"] if standing else None)

    @rpc
    def back_enter_divorce(self, actor, registration_id, request):
        """补录 of a historical divorce of a marriage the registry holds as standing."""
        actor, data = Actor.from_dict(actor), load(BackEnteredDivorceRequestSchema, request)
        marriage = self.db.get(Marriage, registration_id, with_for_update=True)
        if marriage is None:
            raise UnknownRecord(f"no marriage registration {registration_id}")
        actor.require_staff_in(marriage.office_code)
        refusals = rules.check_back_entered_divorce(
            marriage.registered_on, marriage.state, data["divorced_on"], self.clock.today()
        )
        if refusals:
            self._refuse(
                actor, "divorce.back_enter", f"marriage-{marriage.id}", refusals, "back-entry", RegistrationRefused
            )
        number = data["certificate_number"]
        if number and self.db.get(Certificate, number) is not None:
            raise Conflict(
                "the certificate number is in the registry already", errors={"certificate_number": ["already recorded"]}
            )
        marriage.state, marriage.ended_on = "divorced", data["divorced_on"]
        for spouse in self.db.execute(select(Spouse).where(Spouse.marriage_id == marriage.id)).scalars():
            self.db.delete(spouse)
        for certificate in self.db.execute(
            select(Certificate).where(
                Certificate.marriage_id == marriage.id, Certificate.kind != "divorce", Certificate.state == "valid"
            )
        ).scalars():
            certificate.state = "void"
            certificate.void_reason = f"marriage dissolved by divorce on {data['divorced_on']} (back-entered)"
        if number:
            self.db.add(
                Certificate(
                    number=number, kind="divorce", marriage_id=marriage.id, issued_on=data["divorced_on"], state="valid"
                )
            )
        self.audit.record(
            actor,
            "divorce.back_enter",
            f"marriage-{marriage.id}",
            "divorced",
            back_entered=True,
            evidence_kind=data["evidence"]["kind"],
            evidence_reference=data["evidence"]["reference"],
            divorced_on=data["divorced_on"].isoformat(),
        )
        return self._registration(marriage, None)

    def _marriages_of(self, resident_id: str) -> list[Marriage]:
        return list(
            self.db.execute(
                select(Marriage).where((Marriage.party_a_id == resident_id) | (Marriage.party_b_id == resident_id))
            ).scalars()
        )

    def _marry(self, actor: Actor, marriage: Marriage, action: str) -> None:
        """The spouses' rows, whose primary key makes a second standing marriage impossible even
        when two registrations race."""
        parties = [marriage.party_a_id, marriage.party_b_id]
        try:
            with self.db.begin_nested():
                self.db.add_all([Spouse(resident_id=p, marriage_id=marriage.id) for p in parties])
        except IntegrityError:
            self.audit.record_refusal(
                actor, action, f"office-{marriage.office_code}", "already_married: a concurrent registration came first"
            )
            raise AlreadyMarried(
                "a party was registered as married a moment ago",
                errors={
                    f: ["registered as married a moment ago"] for f in ("party_a.resident_id", "party_b.resident_id")
                },
                code="already_married",
            ) from None
