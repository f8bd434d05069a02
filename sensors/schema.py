"""The reading payload as JSON Schema (draft 2020-12), for integrators' own validators (`facmon schema`).

The ingester's parser is the authority; tests check that the schema and the parser agree on typical payloads.
Checks a schema cannot express — ts within the accepted age, a known facility — are described in `description`.
"""

from __future__ import annotations

from typing import Any

from sensors.contract import COUNT_FIELDS, MAX_BATCH_ITEMS, MAX_COUNT, MAX_FUTURE_SECONDS, MAX_PAYLOAD_BYTES, MAX_SEQ

_RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"

_COUNT_TEXT = {
    "occupancy": "People present now.",
    "entries": "People who came in since this sensor's previous reading.",
    "exits": "People who left since this sensor's previous reading.",
    "uses": "Bookings, loans or equipment sessions since this sensor's previous reading.",
}


def reading_schema() -> dict[str, Any]:
    """JSON Schema of a payload on `{prefix}/{facility_id}/{sensor_id}/reading`."""
    count = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
    reading = {
        "type": "object",
        "additionalProperties": False,
        "required": ["ts"],
        "anyOf": [{"required": ["occupancy"]}, {"required": ["entries"]}, {"required": ["uses"]}],
        "properties": {
            "ts": {
                "description": (
                    "When the sensor measured: RFC 3339 with an offset, or epoch seconds, or epoch milliseconds "
                    f"(numbers from 1e11 up are read as milliseconds). At most {MAX_FUTURE_SECONDS} s ahead of the "
                    "ingester's clock and no older than FACMON_MAX_READING_AGE (default 35 days)."
                ),
                "oneOf": [{"type": "string", "pattern": _RFC3339}, {"type": "number"}],
            },
            **{name: {**count, "description": _COUNT_TEXT[name]} for name in COUNT_FIELDS},
            "seq": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ, "description": "Increasing per sensor."},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:facmon:reading:v1",
        "title": "facmon reading",
        "description": (
            f"One reading, or an array of 1 to {MAX_BATCH_ITEMS} readings (store-and-forward). UTF-8 JSON, at most "
            f"{MAX_PAYLOAD_BYTES} bytes. Counts are JSON integers written without a fraction or exponent (3, not 3.0 "
            "or 3e0): JSON Schema treats 3.0 as an integer, the ingester refuses it; strings and booleans too. "
            "Duplicate keys are refused. A sensor sends at least every 15 minutes while its facility is open."
        ),
        "oneOf": [
            {"$ref": "#/$defs/reading"},
            {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_ITEMS, "items": {"$ref": "#/$defs/reading"}},
        ],
        "$defs": {"reading": reading},
    }
