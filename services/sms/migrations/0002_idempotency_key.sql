-- A tenant's Idempotency-Key creates at most one message, even when the
-- edge that stored the first answer died before it could.
ALTER TABLE messages ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX messages_tenant_idempotency_key ON messages (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
