-- Signing secrets, webhook endpoints, deliveries and attempts belong to the
-- webhooks service now (its schema; it copied what was here when it first
-- started). The edge no longer writes a tenant's signing secret.
ALTER TABLE tenants ALTER COLUMN webhook_secret DROP NOT NULL;
