"""Indicators in one place (一组数据看态势, BRIEF §5): the query, one figure as every owner reports
it from its `region_indicators` RPC, and the gathered answer. chassis/indicators.py builds and
judges the figures."""

from __future__ import annotations

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict


class IndicatorsQuerySchema(Strict):
    region = fields.DivisionCode(
        required=True, metadata={"description": "a GB/T 2260 division (its sub-divisions included)"}
    )
    date = fields.Date(required=True, metadata={"description": "stocks are counted on this day, flows from 1 January"})


class IndicatorSchema(Strict):
    name = fields.String(metadata={"description": "stable name of the figure"})
    title = fields.String(metadata={"description": "the documents' wording"})
    owner = fields.String(metadata={"description": "the service whose data it is computed from"})
    unit = fields.String(
        metadata={"description": "ratio (0 to 1), per_10k, households, fen, yuan/person/year, working_days"}
    )
    programme = fields.String(
        allow_none=True, metadata={"description": "the assistance programme of a per-programme figure"}
    )
    value = fields.Float(allow_none=True, metadata={"description": "none when there is nothing to divide by"})
    target = fields.Float(allow_none=True, metadata={"description": "none when no target is in force for the region"})
    comparison = fields.String(allow_none=True, validate=validate.OneOf(("at_least", "at_most")))
    met = fields.Boolean(allow_none=True, metadata={"description": "value against target; none when either is missing"})
    target_version = fields.String(allow_none=True, metadata={"description": "the policy version of the target"})
    target_source = fields.String(allow_none=True, metadata={"description": "the document or law that sets the target"})
    counts = fields.Dict(metadata={"description": "the counts the figure is computed from"})


class RegionIndicatorsSchema(Strict):
    region_code = fields.String()
    on = fields.Date()
    indicators = fields.List(fields.Nested(IndicatorSchema))
