-- The parts of concatenated inbound SMS (UDH or SAR) until every part is in.
-- A completed group keeps its rows (text emptied) for a while, so that a
-- part the SMSC sends again is known for a repeat, not a new message.
CREATE TABLE inbound_parts (
    recipient    text NOT NULL,
    sender       text NOT NULL,
    reference    integer NOT NULL,
    total        smallint NOT NULL,
    seq          smallint NOT NULL,
    text         text NOT NULL,
    received_at  timestamptz NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (recipient, sender, reference, total, seq)
);

-- GET /v1/messages?direction=inbound without walking every outbound message.
CREATE INDEX messages_inbound ON messages (tenant_id, id DESC) WHERE direction = 2;
