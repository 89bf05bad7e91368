"""``omnigate-admin``: operator commands. ``create-tenant NAME`` prints the first API key."""

from __future__ import annotations

import argparse
import asyncio

import orjson

from libs import config
from libs.db import DatabaseConfig, create_pool
from services.edge import tenants
from services.edge.app import prepare_database
from services.edge.config import SCHEMA


async def _create_tenant(name: str) -> tenants.NewTenant:
    db = config.load(DatabaseConfig, "OMNIGATE_DB_").with_schema(SCHEMA)
    pool = await create_pool(db)
    try:
        await prepare_database(pool, db.schema)
        async with pool.acquire() as conn:
            return await tenants.create_tenant(conn, name)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="omnigate-admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-tenant", help="create a tenant and print its first API key")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.command == "create-tenant":
        created = asyncio.run(_create_tenant(args.name))
        if args.json:
            print(
                orjson.dumps(
                    {
                        "tenant_id": created.tenant.id,
                        "api_key": created.api_key,
                        "webhook_secret": created.webhook_secret,
                    }
                ).decode()
            )
        else:
            print(f"tenant_id:      {created.tenant.id}")
            print(f"api_key:        {created.api_key}   (shown once; store it now)")
            print(f"webhook_secret: {created.webhook_secret}")


if __name__ == "__main__":
    main()
