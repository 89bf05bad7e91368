-- Messages, their status history, per-segment carrier correlation.
-- Statuses are stored as the numbers of omnigate.sms.v1.MessageStatus.

CREATE TABLE messages (
    id                text PRIMARY KEY,
    tenant_id         text NOT NULL,
    direction         smallint NOT NULL,
    sender            text NOT NULL,
    recipient         text NOT NULL,
    body              text NOT NULL,
    encoding          smallint NOT NULL,
    segments          smallint NOT NULL,
    status            smallint NOT NULL,
    sequence          int NOT NULL,
    status_callback   text NOT NULL DEFAULT '',
    error_code        text NOT NULL DEFAULT '',
    error_message     text NOT NULL DEFAULT '',
    -- Set when a worker takes the message for submission; a redelivered
    -- command that finds it set knows a previous worker may have submitted.
    submit_claimed_at timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

-- Cursor pagination: a tenant's messages newest first (IDs sort by time).
CREATE INDEX messages_tenant_id_id ON messages (tenant_id, id DESC);

CREATE TABLE message_transitions (
    message_id    text NOT NULL,
    sequence      int NOT NULL,
    status        smallint NOT NULL,
    occurred_at   timestamptz NOT NULL,
    error_code    text NOT NULL DEFAULT '',
    error_message text NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, sequence)
);

-- One row per submitted segment, written when the SMSC acknowledged it.
CREATE TABLE message_segments (
    message_id  text NOT NULL,
    seq         smallint NOT NULL,
    carrier_id  text NOT NULL,
    -- The receipt's outcome (a final MessageStatus), NULL until it arrives.
    status      smallint,
    error_code  text NOT NULL DEFAULT '',
    stat        text NOT NULL DEFAULT '',
    submitted_at timestamptz NOT NULL,
    reported_at timestamptz,
    PRIMARY KEY (message_id, seq)
);
CREATE UNIQUE INDEX message_segments_carrier_id ON message_segments (carrier_id);

-- Receipts that arrived before their submit_sm_resp was recorded: kept and
-- applied when the segment row is written, never dropped.
CREATE TABLE early_receipts (
    carrier_id  text PRIMARY KEY,
    status      smallint NOT NULL,
    stat        text NOT NULL,
    error_code  text NOT NULL,
    received_at timestamptz NOT NULL
);

-- Numbers that belong to a tenant: inbound messages to them are the tenant's.
CREATE TABLE phone_numbers (
    number    text PRIMARY KEY,
    tenant_id text NOT NULL
);
