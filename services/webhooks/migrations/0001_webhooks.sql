-- The webhooks service's records: tenants' signing secrets, webhook endpoints,
-- and every delivery and attempt made to them (or to a resource's own callback
-- URL), so that retries survive a restart and tenants can see and re-send what
-- failed.

-- The Standard Webhooks secret (whsec_...) that signs a tenant's callbacks
-- (a message's status_callback). Endpoints have secrets of their own.
CREATE TABLE signing_secrets (
    tenant_id  text PRIMARY KEY,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_endpoints (
    id                         text PRIMARY KEY,
    tenant_id                  text NOT NULL,
    url                        text NOT NULL,
    description                text NOT NULL DEFAULT '',
    -- Dotted event types ('message.delivered'), '<resource>.*' or '*'.
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
-- every attempt. endpoint_id NULL: the resource's own callback URL (url).
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

-- Webhooks used to be sent by a process of the edge, from the edge's schema:
-- an installation upgrading from there keeps its tenants' secrets, endpoints
-- and pending deliveries. (The edge's copies are no longer read or written.)
DO $$
BEGIN
    IF to_regclass('edge.webhook_attempts') IS NOT NULL THEN
        INSERT INTO signing_secrets (tenant_id, secret, created_at)
            SELECT id, webhook_secret, created_at FROM edge.tenants
            WHERE webhook_secret IS NOT NULL;
        INSERT INTO webhook_endpoints SELECT * FROM edge.webhook_endpoints;
        INSERT INTO webhook_deliveries SELECT * FROM edge.webhook_deliveries;
        INSERT INTO webhook_attempts SELECT * FROM edge.webhook_attempts;
    END IF;
END
$$;
