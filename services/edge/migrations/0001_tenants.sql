-- Tenants and their API keys. Keys are random 256-bit secrets, so a fast
-- hash (SHA-256) is enough to store them safely; only a short prefix is kept
-- in clear, to let a tenant tell keys apart.

CREATE TABLE tenants (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- Standard Webhooks signing secret (whsec_...) for the tenant's status callbacks.
    webhook_secret text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    prefix      text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant_id ON api_keys (tenant_id);
