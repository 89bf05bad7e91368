-- A receipt and the record of its submit can race: each committed before it
-- could see the other, the early receipt was kept where nobody looked again.
-- Both now upsert the same row, keyed by carrier id, so the second waits for
-- the first and sees it: a receipt that arrives first leaves a row without
-- message_id, which the submit record then completes (and applies).
ALTER TABLE message_segments DROP CONSTRAINT message_segments_pkey;
ALTER TABLE message_segments
    ALTER COLUMN message_id DROP NOT NULL,
    ALTER COLUMN seq DROP NOT NULL,
    ALTER COLUMN submitted_at DROP NOT NULL;
ALTER TABLE message_segments
    ADD CONSTRAINT message_segments_pkey PRIMARY KEY USING INDEX message_segments_carrier_id;
CREATE UNIQUE INDEX message_segments_message_id_seq ON message_segments (message_id, seq)
    WHERE message_id IS NOT NULL;

INSERT INTO message_segments (carrier_id, status, stat, error_code, reported_at)
    SELECT carrier_id, status, stat, error_code, received_at FROM early_receipts
    ON CONFLICT DO NOTHING;
DROP TABLE early_receipts;
