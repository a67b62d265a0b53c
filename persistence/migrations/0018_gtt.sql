-- GTT triggers (docs/DOMAIN.md §7): one row per GTT, written by persistence.writer from the
-- journal's GTT events in the same statement as the events (persistence/gtt_rows.py). Rows
-- carry absolute values, so a batch written twice lands once. An ACTIVE row is a GTT the
-- account holds (recovery checks them against the journal's replay); the others say how it
-- ended.
CREATE TABLE gtts (
    id                    text PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    instrument_id         text NOT NULL,
    gtt_type              text NOT NULL CHECK (gtt_type IN ('SINGLE', 'TWO_LEG')),
    status                text NOT NULL CHECK (status IN
                              ('ACTIVE', 'TRIGGERED', 'REJECTED', 'CANCELLED', 'EXPIRED',
                               'DISABLED')),
    last_price_paise      bigint NOT NULL,            -- the price its triggers were set against
    legs                  jsonb NOT NULL,             -- [{trigger_paise, side, quantity, ...}]
    version               integer NOT NULL,           -- bumped by each modification
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    triggered_leg         smallint,                   -- which leg fired (TRIGGERED, REJECTED)
    triggered_price_paise bigint,                     -- the last price that fired it
    order_id              text,                       -- the order it placed
    rejection_reason      text                        -- why that order was refused (REJECTED)
);
-- An account's GTTs newest first, paged by (created_at, id) as orders are.
CREATE INDEX gtts_account_time_idx ON gtts (trading_account_id, created_at DESC, id DESC);
