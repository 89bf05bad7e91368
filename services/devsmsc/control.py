"""The dev SMSC's HTTP control API, for tests and for poking at it by hand.

``GET /stats`` returns the counters, ``POST /reset`` zeroes them, and
``POST /mo`` {"from", "to", "text"} injects a mobile-originated SMS: 202 when
queued, 409 when no receiver/transceiver is bound to take it. A text longer
than one SMS goes in parts: ``"concatenation"`` ``"udh"`` (the default),
``"sar"`` or ``"payload"`` (whole, in message_payload), and ``"reverse":
true`` sends the parts last first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from services.devsmsc.server import DevSmsc

_SMSC: web.AppKey[DevSmsc] = web.AppKey("smsc")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def _stats(request: web.Request) -> web.Response:
    return _json(request.app[_SMSC].stats())


async def _reset(request: web.Request) -> web.Response:
    request.app[_SMSC].reset()
    return _json({"reset": True})


async def _mo(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _json({"error": "body must be JSON"}, 400)
    if not isinstance(body, dict):
        return _json({"error": "body must be a JSON object"}, 400)
    fields = {k: body.get(k) for k in ("from", "to", "text")}
    bad = [k for k, v in fields.items() if not isinstance(v, str) or (k != "text" and not v)]
    if bad:
        return _json({"error": f"missing or non-string fields: {', '.join(bad)}"}, 400)
    concatenation, reverse = body.get("concatenation", "udh"), body.get("reverse", False)
    if not isinstance(reverse, bool):
        return _json({"error": "reverse must be true or false"}, 400)
    smsc = request.app[_SMSC]
    try:
        queued = smsc.send_mo(
            str(fields["from"]), str(fields["to"]), str(fields["text"]), concatenation, reverse
        )
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)
    if not queued:
        return _json({"error": "no receiver or transceiver is bound"}, 409)
    return _json({"queued": True}, 202)


async def start_control(smsc: DevSmsc, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve the control API on ``host:port`` (0 = any free port); return the runner and port."""
    app = web.Application()
    app[_SMSC] = smsc
    app.router.add_get("/stats", _stats)
    app.router.add_post("/reset", _reset)
    app.router.add_post("/mo", _mo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, int(bound)


async def stop_control(runner: web.AppRunner) -> None:
    await runner.cleanup()
