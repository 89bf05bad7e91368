"""``omnigate-admin``: operator commands on tenants, API keys and numbers.

Talks to PostgreSQL directly (OMNIGATE_DB_DSN), like the operator API does,
to the webhooks service (OMNIGATE_WEBHOOKS_CLIENT_TARGET) for a new
tenant's signing secret, and to the numbers service
(OMNIGATE_NUMBERS_CLIENT_TARGET) for numbers; every change that refuses a
key reaches the running edges at once.

    omnigate-admin create-tenant acme [--rate 50 --burst 100]
    omnigate-admin list-tenants
    omnigate-admin suspend-tenant ten_...   |  reactivate-tenant ten_...
    omnigate-admin set-limit ten_... --rate 50 [--burst 100]
    omnigate-admin create-key ten_... [--name ci] [--scope send-only|read-only|full|<scope>]
    omnigate-admin list-keys ten_...
    omnigate-admin revoke-key ten_... key_...
    omnigate-admin assign-number ten_... +447700900150   (or a sender ID: ACME)
    omnigate-admin list-numbers ten_...
    omnigate-admin release-number ten_... num_...
    omnigate-admin dead-letters sms.submit [--limit 20]   (any queue: webhooks.events, ...)
    omnigate-admin replay-dead-letters sms.submit --id MESSAGE_ID ... | --all

Dead letters are read from the broker (OMNIGATE_BUS_URL, OMNIGATE_BUS_PREFIX).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import grpc
import orjson

from libs import runtime
from libs.api.numbers.v1 import numbers_pb2, numbers_pb2_grpc
from libs.api.webhooks.v1 import webhooks_pb2_grpc
from libs.bus import deadletters
from libs.db import create_pool, migrate
from libs.errors import InvalidArgument, OmnigateError
from libs.grpc.client import open_channel
from libs.grpc.errors import from_rpc_error
from services.edge import scopes, tenants
from services.edge.admin import key_json, limit_from, signing_secret_of, tenant_json
from services.edge.config import webhooks_client
from services.edge.schema import MIGRATIONS, SCHEMA
from services.edge.tenants import Limit

NumbersStub = numbers_pb2_grpc.NumbersServiceStub


def _limit(args: argparse.Namespace) -> Limit | None:
    if getattr(args, "rate", None) is None:
        return None
    return limit_from({"rate_limit": {"per_s": args.rate, "burst": args.burst}})


async def _create_tenant(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    async with open_channel(webhooks_client()) as channel:
        signing = signing_secret_of(webhooks_pb2_grpc.WebhooksServiceStub(channel))
        created = await tenants.create_tenant(conn, args.name, _limit(args), signing)
    return {
        "tenant_id": created.tenant.id,
        "api_key": created.api_key,
        "webhook_secret": created.webhook_secret,
    }


async def _list_tenants(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    return [tenant_json(t) for t in await tenants.list_tenants(conn, 10_000, None)]


async def _set_status(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    status = "suspended" if args.command == "suspend-tenant" else "active"
    return tenant_json(await tenants.update_tenant(conn, args.tenant_id, {"status": status}))


async def _set_limit(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    limit = _limit(args)
    changes = {
        "rate_limit_per_s": limit.per_s if limit else None,
        "rate_limit_burst": limit.burst if limit else None,
    }
    return tenant_json(await tenants.update_tenant(conn, args.tenant_id, changes))


async def _create_key(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    created = await tenants.create_key(
        conn,
        args.tenant_id,
        name=args.name,
        scopes=scopes.resolve(args.scope or ["full"]),
        limit=_limit(args),
    )
    return key_json(created.key) | {"secret": created.secret}


async def _list_keys(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    return [key_json(k) for k in await tenants.list_keys(conn, args.tenant_id)]


async def _revoke_key(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    return key_json(await tenants.revoke_key(conn, args.tenant_id, args.key_id))


@asynccontextmanager
async def _numbers(
    conn: asyncpg.Connection, tenant_id: str
) -> AsyncIterator[tuple[NumbersStub, str]]:
    """The numbers service, and the id of the tenant (which must exist) to ask it about."""
    tenant = await tenants.get_tenant(conn, tenant_id)
    async with open_channel(runtime.numbers_client()) as channel:
        yield numbers_pb2_grpc.NumbersServiceStub(channel), tenant.id


def _public(number: numbers_pb2.Number) -> Any:
    return orjson.loads(number.public_json)


async def _assign_number(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    async with _numbers(conn, args.tenant_id) as (stub, tenant_id):
        request = numbers_pb2.AssignNumberRequest(tenant_id=tenant_id, address=args.number)
        return _public(await stub.AssignNumber(request))


async def _list_numbers(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    found, token = [], ""
    async with _numbers(conn, args.tenant_id) as (stub, tenant_id):
        while True:
            page = await stub.ListNumbers(
                numbers_pb2.ListNumbersRequest(tenant_id=tenant_id, page_token=token)
            )
            found += [_public(n) for n in page.numbers]
            token = page.next_page_token
            if not token:
                return found


async def _release_number(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    async with _numbers(conn, args.tenant_id) as (stub, tenant_id):
        request = numbers_pb2.NumberRequest(tenant_id=tenant_id, id=args.number_id)
        return _public(await stub.ReleaseNumber(request))


async def _dead_letters(conn: asyncpg.Connection | None, args: argparse.Namespace) -> Any:
    letters = await deadletters.dead_letters(runtime.bus(), args.queue, args.limit)
    return [d.as_json() for d in letters]


async def _replay_dead_letters(conn: asyncpg.Connection | None, args: argparse.Namespace) -> Any:
    if not args.all and not args.id:
        raise InvalidArgument("name the dead letters to replay with --id, or replay --all")
    chosen = None if args.all else args.id
    return [d.as_json() for d in await deadletters.replay(runtime.bus(), args.queue, chosen)]


Command = Callable[[asyncpg.Connection, argparse.Namespace], Awaitable[Any]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnigate-admin", description="Operate Omnigate tenants and their numbers."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, run: Command, help_: str, db: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.set_defaults(run=run, needs_db=db)
        p.add_argument("--json", action="store_true", help="print JSON only")
        return p

    def limits(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rate", type=float, help="requests per second")
        p.add_argument("--burst", type=int, help="requests at once (default: the rate)")

    p = add("create-tenant", _create_tenant, "create a tenant; prints its first API key")
    p.add_argument("name")
    limits(p)
    add("list-tenants", _list_tenants, "list tenants")
    for name in ("suspend-tenant", "reactivate-tenant"):
        add(name, _set_status, name.replace("-", " ")).add_argument("tenant_id")
    p = add("set-limit", _set_limit, "set a tenant's request limit (no --rate: the default)")
    p.add_argument("tenant_id")
    limits(p)
    p = add("create-key", _create_key, "issue an API key; prints it once")
    p.add_argument("tenant_id")
    p.add_argument("--name", default="")
    p.add_argument("--scope", action="append", help="send-only, read-only, full or a scope")
    limits(p)
    add("list-keys", _list_keys, "list a tenant's keys (prefixes only)").add_argument("tenant_id")
    p = add("revoke-key", _revoke_key, "revoke a key at once")
    p.add_argument("tenant_id")
    p.add_argument("key_id")
    p = add("assign-number", _assign_number, "assign an E.164 number or a sender ID to a tenant")
    p.add_argument("tenant_id")
    p.add_argument("number")
    add("list-numbers", _list_numbers, "list a tenant's numbers").add_argument("tenant_id")
    p = add("release-number", _release_number, "take a number back from a tenant")
    p.add_argument("tenant_id")
    p.add_argument("number_id")
    p = add("dead-letters", _dead_letters, "list a queue's dead letters, oldest first", db=False)
    p.add_argument("queue", help="the logical queue: sms.submit, sms.numbers, webhooks.events")
    p.add_argument("--limit", type=int, help="at most this many (they move to the back)")
    p = add(
        "replay-dead-letters",
        _replay_dead_letters,
        "send dead letters back to their queue as first attempts",
        db=False,
    )
    p.add_argument("queue")
    p.add_argument("--id", action="append", help="a dead letter's message_id (repeatable)")
    p.add_argument("--all", action="store_true", help="every dead letter of the queue")
    return parser


async def _run(args: argparse.Namespace) -> Any:
    if not args.needs_db:
        return await args.run(None, args)
    db = runtime.database(SCHEMA)
    pool = await create_pool(db)
    try:
        await migrate(pool, db.schema, list(MIGRATIONS))
        async with pool.acquire() as conn:
            return await args.run(conn, args)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        result = asyncio.run(_run(args))
    except grpc.aio.AioRpcError as exc:
        print(f"omnigate-admin: {from_rpc_error(exc).detail}", file=sys.stderr)
        raise SystemExit(1) from exc
    except OmnigateError as exc:
        print(f"omnigate-admin: {exc.detail}", file=sys.stderr)
        raise SystemExit(1) from exc
    if args.json:
        print(orjson.dumps(result).decode())
    elif args.command == "create-tenant":
        print(f"tenant_id:      {result['tenant_id']}")
        print(f"api_key:        {result['api_key']}   (shown once; store it now)")
        print(f"webhook_secret: {result['webhook_secret']}")
    else:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
