-- Futures and options are margined by portfolio, per underlying (docs/DOMAIN.md §2): what each
-- underlying blocks now, by name, so rebuilding an account from its projections gives what
-- replaying its journal does.
ALTER TABLE trading_accounts
    ADD COLUMN portfolio_margin jsonb NOT NULL DEFAULT '{}'::jsonb;
