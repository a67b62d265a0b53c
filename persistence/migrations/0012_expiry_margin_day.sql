-- The expiry-day extra ELM (docs/DOMAIN.md §2) is blocked on short index options held into
-- their expiry day once a day: the latest trade day (IST day number) the account made that
-- check, so rebuilding an account from its projections gives what replaying its journal does.
ALTER TABLE trading_accounts
    ADD COLUMN expiry_margin_day integer NOT NULL DEFAULT 0;
