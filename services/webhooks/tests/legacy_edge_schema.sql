-- The edge's webhook tables as builds before the webhooks service had them
-- (edge migrations 0001-0006), the shape 0001_webhooks.sql copies from. Kept
-- here, not read from the edge: this is a fixed past, whatever the edge becomes.
CREATE SCHEMA IF NOT EXISTS edge;

CREATE TABLE edge.tenants (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    status         text NOT NULL DEFAULT 'active',
    webhook_secret text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE edge.webhook_endpoints (
    id                         text PRIMARY KEY,
    tenant_id                  text NOT NULL REFERENCES edge.tenants (id),
    url                        text NOT NULL,
    description                text NOT NULL DEFAULT '',
    event_types                text[] NOT NULL,
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    disabled                   boolean NOT NULL DEFAULT false,
    disabled_reason            text,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE edge.webhook_deliveries (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    endpoint_id      text REFERENCES edge.webhook_endpoints (id) ON DELETE CASCADE,
    url              text,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    payload          bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending',
    attempts         int NOT NULL DEFAULT 0,
    retries          int NOT NULL DEFAULT 0,
    last_status_code int,
    last_error       text,
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE edge.webhook_attempts (
    id           text PRIMARY KEY,
    delivery_id  text NOT NULL REFERENCES edge.webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    url          text NOT NULL,
    status_code  int,
    error        text,
    duration_ms  int NOT NULL
);
