-- Rows a writer hands straight to its own process's relay carry that relay's
-- token; other relays leave them alone until they are older than the
-- hand-over period (the writer died before publishing them). NULL: any
-- relay takes the row at once.
ALTER TABLE outbox
    ADD COLUMN owner text,
    ADD COLUMN written_at timestamptz NOT NULL DEFAULT now();
