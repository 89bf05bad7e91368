-- Idempotency-Key: the first response to a POST, replayed to its retries for 24 h.
-- locked_until marks a request in progress; a crashed one is taken over after it.
CREATE TABLE idempotency_keys (
    tenant_id        text NOT NULL,
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    locked_until     timestamptz,
    response_status  int,
    response_type    text,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
