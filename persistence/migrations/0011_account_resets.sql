-- Account resets ("starting over", issue 23). A reset is one decision of journaled events;
-- its AccountReset event projects one row here, in the same statement as the rest: what the
-- per-day limit counts (``trade_day``, the exchange-local day), what ``since=reset`` filters
-- from (``account_seq``: the lists show what came after that event) and who reset it.
CREATE TABLE account_resets (
    id                    text PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    account_seq           bigint NOT NULL,
    trade_day             integer NOT NULL,
    reset_by              text NOT NULL,              -- the user id (owner or admin)
    by_role               text NOT NULL CHECK (by_role IN ('USER', 'ADMIN')),
    opening_balance_paise bigint NOT NULL,
    adjustment_paise      bigint NOT NULL,            -- the RESET ledger entry, signed
    created_at            timestamptz NOT NULL,
    UNIQUE (trading_account_id, account_seq)
);
CREATE INDEX account_resets_time_idx ON account_resets (created_at);

-- A reset cancels pending withdrawals (their blocks are released, nothing is debited).
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_status_check;
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_status_check
    CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED'));
