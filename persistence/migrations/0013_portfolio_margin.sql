-- Futures and options are margined by portfolio, per underlying (docs/DOMAIN.md §2): what each
-- underlying blocks now, by name, so rebuilding an account from its projections gives what
-- replaying its journal does.
ALTER TABLE trading_accounts
    ADD COLUMN portfolio_margin jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Margin calls and the daily settlement of futures (docs/DOMAIN.md §2): whether the account is
-- under a margin call, and the latest trade day at whose start its futures were settled.
ALTER TABLE trading_accounts
    ADD COLUMN margin_called boolean NOT NULL DEFAULT false,
    ADD COLUMN futures_settled_day integer NOT NULL DEFAULT 0;
