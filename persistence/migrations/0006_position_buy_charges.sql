-- What today's CNC buys in an open position paid, as the ledger books it (brokerage, taxes):
-- a sell the same day re-rates those buys as intraday (docs/DOMAIN.md §1), so rebuilding an
-- account from its projections needs them as much as replaying its journal does.
ALTER TABLE positions
    ADD COLUMN buy_brokerage_paise bigint NOT NULL DEFAULT 0,
    ADD COLUMN buy_taxes_paise bigint NOT NULL DEFAULT 0;
