-- Keys get a name and scopes; tenants and keys get their own request limits
-- (NULL: the edge's configured default).
ALTER TABLE api_keys
    ADD COLUMN name text NOT NULL DEFAULT '',
    ADD COLUMN scopes text[] NOT NULL
        DEFAULT ARRAY['messages:read', 'messages:write', 'webhooks:read', 'webhooks:write'],
    ADD COLUMN rate_limit_per_s double precision CHECK (rate_limit_per_s > 0),
    ADD COLUMN rate_limit_burst int CHECK (rate_limit_burst > 0);

ALTER TABLE tenants
    ADD COLUMN rate_limit_per_s double precision CHECK (rate_limit_per_s > 0),
    ADD COLUMN rate_limit_burst int CHECK (rate_limit_burst > 0),
    ADD COLUMN suspended_at timestamptz;
