-- One write path for money: deposit and withdrawal requests, their decisions and keyed admin
-- adjustments are journaled events, and these rows their projections, written in the same
-- statement. ``journaled`` tells a request projected from the journal from one written
-- before (rebuilding an account from projections counts only the journaled ones).
ALTER TABLE deposits ADD COLUMN journaled boolean NOT NULL DEFAULT false;
ALTER TABLE withdrawals ADD COLUMN journaled boolean NOT NULL DEFAULT false;
-- What a keyed adjustment did, as its event did it (NULL for rows written before).
ALTER TABLE admin_fund_operations
    ADD COLUMN account_seq bigint,
    ADD COLUMN balance_after_paise bigint;
