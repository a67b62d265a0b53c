-- The virtual balance a trading account opens with (accounts.opening_balance when it was
-- created), written with the account so that a credit cut off by a crash is made at the next
-- start, and so that a later change of the setting never reaches accounts opened before it.
ALTER TABLE trading_accounts
    ADD COLUMN opening_balance_paise bigint NOT NULL DEFAULT 0 CHECK (opening_balance_paise >= 0);
