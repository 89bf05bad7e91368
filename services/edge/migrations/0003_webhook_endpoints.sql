-- Webhook endpoints as a resource, and every delivery and attempt made to
-- them (or to a message's own status_callback), so that retries survive a
-- restart and tenants can see and re-send what failed.

CREATE TABLE webhook_endpoints (
    id                         text PRIMARY KEY,
    tenant_id                  text NOT NULL REFERENCES tenants (id),
    url                        text NOT NULL,
    description                text NOT NULL DEFAULT '',
    -- Dotted event types ('message.delivered'), 'message.*' or '*'.
    event_types                text[] NOT NULL,
    secret                     text NOT NULL,
    -- The secret before the last rotation keeps signing until it expires,
    -- so receivers can switch over without dropping webhooks.
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    disabled                   boolean NOT NULL DEFAULT false,
    disabled_reason            text,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

-- One row per (event, destination); its id is the webhook-id, the same on
-- every attempt. endpoint_id NULL: the message's own status_callback (url).
CREATE TABLE webhook_deliveries (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    endpoint_id      text REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    url              text,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    payload          bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         int NOT NULL DEFAULT 0,
    -- Failed attempts since the delivery was (re)queued: the step of the
    -- backoff ladder the next retry uses.
    retries          int NOT NULL DEFAULT 0,
    last_status_code int,
    last_error       text,
    -- While pending: when the next attempt is due. An attempt in progress
    -- pushes it past its timeout (a lease), so a crashed sender's work is
    -- picked up by the poller again.
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((endpoint_id IS NULL) <> (url IS NULL))
);
CREATE UNIQUE INDEX webhook_deliveries_event_endpoint
    ON webhook_deliveries (event_id, endpoint_id) WHERE endpoint_id IS NOT NULL;
CREATE UNIQUE INDEX webhook_deliveries_event_callback
    ON webhook_deliveries (event_id) WHERE endpoint_id IS NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_due
    ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id           text PRIMARY KEY,
    delivery_id  text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    url          text NOT NULL,
    status_code  int,
    error        text,
    duration_ms  int NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at);
