-- The instrument table holds the whole master (sample or imported) so the server can load it
-- back, plus the last traded price the market saw (the second tier of price resolution).
ALTER TABLE instruments
    ADD COLUMN reference_price_paise bigint NOT NULL DEFAULT 0,
    ADD COLUMN liquidity             text   NOT NULL DEFAULT 'MEDIUM',
    ADD COLUMN underlying            text   NOT NULL DEFAULT '',
    ADD COLUMN underlying_kind       text   NOT NULL DEFAULT '',
    ADD COLUMN freeze_quantity       integer NOT NULL DEFAULT 0;
