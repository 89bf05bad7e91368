-- Numbers and alphanumeric sender IDs, each row one assignment to one
-- tenant. A released row stays (messages keep naming it); assigning the
-- address again makes a new row with a new id.
CREATE TABLE numbers (
    id                 text PRIMARY KEY,
    tenant_id          text NOT NULL,
    -- '+447700900150', or the sender ID as assigned ('ACME').
    address            text NOT NULL,
    type               smallint NOT NULL,
    sms_url            text NOT NULL DEFAULT '',
    voice_url          text NOT NULL DEFAULT '',
    voice_fallback_url text NOT NULL DEFAULT '',
    status_callback    text NOT NULL DEFAULT '',
    sequence           bigint NOT NULL DEFAULT 1,
    assigned_at        timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    released_at        timestamptz
);

-- One owner at a time. Sender IDs differ only in case are one ID: a
-- recipient cannot tell 'ACME' from 'Acme' apart as the brand sending.
CREATE UNIQUE INDEX numbers_one_owner ON numbers (upper(address)) WHERE released_at IS NULL;
CREATE INDEX numbers_of_tenant ON numbers (tenant_id, id) WHERE released_at IS NULL;
