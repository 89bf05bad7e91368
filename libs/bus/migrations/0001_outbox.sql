-- Transactional outbox: rows written in the same transaction as the change
-- they announce, deleted by the relay once the broker confirmed them.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    exchange    text        NOT NULL,  -- logical: 'events' or 'commands'
    routing_key text        NOT NULL,
    message_id  text        NOT NULL,
    type        text        NOT NULL,
    tenant_id   text        NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}',
    body        bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every row is inserted once and deleted soon after: vacuum by dead-row
-- count rather than table fraction, or the relay's ORDER BY id scan wades
-- through dead tuples of a table that is nearly always almost empty.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 5000
);

-- Idempotent consumers: one row per (consumer, message) whose effect was committed.
CREATE TABLE processed_messages (
    consumer     text        NOT NULL,
    message_id   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- For pruning rows older than any possible redelivery.
CREATE INDEX processed_messages_processed_at ON processed_messages (processed_at);
