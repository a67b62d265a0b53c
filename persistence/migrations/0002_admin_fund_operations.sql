-- Admin fund operations keyed by the caller's idempotency key: a retried request finds its
-- first result here instead of moving money twice.
CREATE TABLE admin_fund_operations (
    idempotency_key     text PRIMARY KEY,
    trading_account_id  text NOT NULL REFERENCES trading_accounts (id),
    operation           text NOT NULL CHECK (operation IN ('ADD', 'WITHDRAW')),
    amount_paise        bigint NOT NULL CHECK (amount_paise > 0),
    admin_user_id       text NOT NULL REFERENCES users (id),
    result              jsonb,                      -- NULL while the operation is in flight
    created_at          timestamptz NOT NULL DEFAULT now()
);
