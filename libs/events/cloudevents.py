"""An envelope as a CloudEvent in the spec's JSON format, for export to any CloudEvents consumer.

The envelope's fields are the CloudEvents attributes of the same names;
Omnigate's own are extension attributes (lower-case letters and digits
only, as the spec requires): ``tenantid``, ``sequence`` (the spec's
sequence extension: a string that sorts as the events happened, so
zero-padded), and, when set, ``contactid``, ``channel`` and ``callbackurl``.
JSON data is embedded as JSON, anything else base64-encoded as ``data_base64``.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from libs.api.events.v1 import events_pb2
from libs.timestamps import rfc3339_of

CONTENT_TYPE = "application/cloudevents+json"


def to_structured(event: events_pb2.Event) -> dict[str, Any]:
    """The event as a CloudEvents JSON object (structured content mode)."""
    out: dict[str, Any] = {
        "specversion": event.spec_version,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": rfc3339_of(event.time),
        "datacontenttype": event.data_content_type,
        "tenantid": event.tenant_id,
        "sequence": f"{event.sequence:020d}",
    }
    for name, value in (
        ("contactid", event.contact_id),
        ("channel", event.channel),
        ("callbackurl", event.callback_url),
    ):
        if value:
            out[name] = value
    if event.data_content_type == "application/json":
        out["data"] = orjson.loads(event.data)
    elif event.data:
        out["data_base64"] = base64.b64encode(event.data).decode()
    return out
