"""Who read a person's data: what a citizen is shown of the reads of theirs by staff and partners
(the gateway records each; gateway/reads.py)."""

from __future__ import annotations

from contracts import fields
from contracts.marriage import Strict


class PersonReadSchema(Strict):
    at = fields.DateTime()
    role = fields.String(metadata={"description": "clerk, funeral_home, admin or partner"})
    area = fields.String(allow_none=True, metadata={"description": "the division code the reader serves"})
    organisation = fields.String(
        allow_none=True, metadata={"description": "the partner department, and its organisation when it has several"}
    )
    what = fields.String(metadata={"description": "which of the person's records was read"})


class PersonReadsSchema(Strict):
    reads = fields.List(fields.Nested(PersonReadSchema), metadata={"description": "newest first"})
