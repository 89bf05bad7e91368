-- Who owns an address: a copy of the numbers service's assignments, kept
-- from its number.* events (and from ResolveNumbers for an address the copy
-- did not know yet). Replaces phone_numbers, which nothing filled.
DROP TABLE phone_numbers;

CREATE TABLE numbers (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL,
    address     text NOT NULL,
    sms_url     text NOT NULL,
    -- The numbers service's; an event older than the row changes nothing.
    sequence    bigint NOT NULL,
    assigned_at timestamptz NOT NULL,
    released    boolean NOT NULL
);

-- An address released and assigned again has two rows for a moment; the
-- later assignment owns it.
CREATE INDEX numbers_by_address ON numbers (address, assigned_at DESC) WHERE NOT released;
