"""救助一件事: the linked-item catalogue, what one approval opens at the other departments. A mixin of the assistance
service (nameko finds inherited entrypoints); what the parts share is in shared.py."""

from __future__ import annotations

from sqlalchemy import select

from chassis import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    rpc,
)
from contracts.assistance import (
    LinkedItemRequestSchema,
    LinkedItemRetirementSchema,
    LinkedItemViewSchema,
    NewLinkedItemRequestSchema,
)
from contracts.partners import PARTNERS
from contracts.roles import ADMIN, STAFF
from services.assistance.models import (
    LinkedItem,
    LinkedItemVersion,
)
from services.assistance.schemas import (
    dump,
    load,
)


class LinkedItems:
    """Mixed into the assistance service; uses its db, audit, clock."""

    # --- 救助一件事: the linked-item catalogue -----------------------------------------------------

    @rpc
    def list_linked_items(self, actor, include_retired=False):
        actor = Actor.from_dict(actor)
        if actor.role not in STAFF:
            raise Forbidden("the catalogue is read by staff")
        query = select(LinkedItem).order_by(LinkedItem.code)
        if not include_retired:
            query = query.where(LinkedItem.active.is_(True))
        return {"items": [self._item_view(i) for i in self.db.execute(query).scalars()]}  # each dumped already

    @rpc
    def add_linked_item(self, actor, request):
        """A new item of the catalogue, version 1; approvals from now on grant it."""
        actor, data = Actor.from_dict(actor), load(NewLinkedItemRequestSchema, request)
        self._require_catalogue_admin(actor)
        self._require_owner(data["owner"])
        if self.db.get(LinkedItem, data["code"], with_for_update=True) is not None:
            raise Conflict(f"item {data['code']} exists; change it as a new version", errors={"code": ["exists"]})
        item = LinkedItem(code=data["code"], active=True, version=0)
        self.db.add(item)
        return self._item_version(actor, item, data, True, "linked_item.add")

    @rpc
    def change_linked_item(self, actor, code, request):
        """A change is a new version; the earlier ones are kept as they were."""
        actor, data = Actor.from_dict(actor), load(LinkedItemRequestSchema, request)
        self._require_catalogue_admin(actor)
        self._require_owner(data["owner"])
        item = self._item(code)
        if not item.active:
            raise Conflict(f"item {code} is retired", errors={"code": ["retired"]})
        return self._item_version(actor, item, data, True, "linked_item.change")

    @rpc
    def retire_linked_item(self, actor, code, request):
        """Approvals from now on no longer grant it; the matters that have it keep their step."""
        actor, data = Actor.from_dict(actor), load(LinkedItemRetirementSchema, request)
        self._require_catalogue_admin(actor)
        item = self._item(code)
        if not item.active:
            raise Conflict(f"item {code} is retired already", errors={"code": ["retired"]})
        same = {
            "title": item.title,
            "owner": item.owner,
            "deadline_days": item.deadline_days,
            "programmes": item.programmes,
            "reason": data["reason"],
        }
        return self._item_version(actor, item, same, False, "linked_item.retire")

    def _item_version(self, actor: Actor, item: LinkedItem, data: dict, active: bool, action: str) -> dict:
        item.version = (item.version or 0) + 1
        item.title, item.owner, item.deadline_days = data["title"], data["owner"], data["deadline_days"]
        item.programmes, item.active = sorted(set(data["programmes"])), active
        self.db.flush()
        self.db.add(
            LinkedItemVersion(
                code=item.code,
                version=item.version,
                title=item.title,
                owner=item.owner,
                deadline_days=item.deadline_days,
                programmes=item.programmes,
                active=active,
                recorded_at=self.clock.now(),
                recorded_by=actor.id,
                reason=data.get("reason"),
            )
        )
        self.db.flush()
        self.audit.record(
            actor,
            action,
            f"linked-item-{item.code}",
            "active" if active else "retired",
            version=item.version,
            owner=item.owner,
            reason=data.get("reason"),
        )
        return self._item_view(item)

    def _item(self, code: str) -> LinkedItem:
        item = self.db.get(LinkedItem, code, with_for_update=True)
        if item is None:
            raise NotFound(f"no linked item {code}", errors={"code": ["unknown"]})
        return item

    @staticmethod
    def _require_catalogue_admin(actor: Actor) -> None:
        if actor.role != ADMIN:
            raise Forbidden("only the bureau's administrators keep the catalogue of linked items")

    def _require_owner(self, owner: str) -> None:
        if owner != self.name and owner not in PARTNERS:
            raise InvalidInput(
                "not a department of the partner registry",
                errors={"owner": [f"one of assistance, {', '.join(sorted(PARTNERS))}"]},
            )

    def _item_view(self, item: LinkedItem) -> dict:
        versions = self.db.execute(
            select(LinkedItemVersion).where(LinkedItemVersion.code == item.code).order_by(LinkedItemVersion.version)
        ).scalars()
        partner = PARTNERS.get(item.owner)
        return dump(
            LinkedItemViewSchema,
            {
                "code": item.code,
                "title": item.title,
                "owner": item.owner,
                "owner_title": partner.title if partner else "民政 civil affairs (social assistance)",
                "deadline_days": item.deadline_days,
                "programmes": item.programmes,
                "active": item.active,
                "version": item.version,
                "versions": [
                    {
                        "version": v.version,
                        "title": v.title,
                        "owner": v.owner,
                        "deadline_days": v.deadline_days,
                        "programmes": v.programmes,
                        "active": v.active,
                        "recorded_at": v.recorded_at,
                        "recorded_by": v.recorded_by,
                        "reason": v.reason,
                    }
                    for v in versions
                ],
            },
        )
