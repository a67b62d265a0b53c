-- paperdesk initial schema. Money and prices are BIGINT paise; ids are text (UUIDs from the
-- gateway, any string from the engine's tests); times are timestamptz (UTC).

CREATE TABLE users (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'USER' CHECK (role IN ('USER', 'ADMIN')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    token_hash  text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- One row per trading account: the funds projection. ``last_seq`` is the account_seq of the
-- last journaled event folded into the projections. The user link is nullable because the
-- engine can journal an account before the gateway has linked it to a user.
CREATE TABLE trading_accounts (
    id                  text PRIMARY KEY,
    user_id             text REFERENCES users (id) ON DELETE RESTRICT,
    last_seq            bigint NOT NULL DEFAULT 0,
    balance_paise       bigint NOT NULL DEFAULT 0,
    blocked_paise       bigint NOT NULL DEFAULT 0,
    deposits_paise      bigint NOT NULL DEFAULT 0,
    withdrawals_paise   bigint NOT NULL DEFAULT 0,
    realized_pnl_paise  bigint NOT NULL DEFAULT 0,
    charges_paise       bigint NOT NULL DEFAULT 0,
    dp_charged_day      jsonb NOT NULL DEFAULT '{}'::jsonb,  -- instrument id -> trade day
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trading_accounts_user_idx ON trading_accounts (user_id);

CREATE TABLE instruments (
    id                    text PRIMARY KEY,
    token                 bigint NOT NULL,
    exchange              text NOT NULL,
    segment               text NOT NULL,
    symbol                text NOT NULL,
    name                  text NOT NULL,
    instrument_type       text NOT NULL,
    isin                  text NOT NULL DEFAULT '',
    expiry                date,
    strike_paise          bigint NOT NULL DEFAULT 0,
    tick_paise            bigint NOT NULL,
    lot_size              integer NOT NULL,
    last_ltp_paise        bigint,
    last_ltp_at           timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instruments_symbol_idx ON instruments (exchange, symbol);

-- Every order ever placed, including rejected ones (the API lists them).
CREATE TABLE orders (
    id                    text PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    client_order_id       text,
    instrument_id         text NOT NULL,
    side                  text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    product               text NOT NULL CHECK (product IN ('MIS', 'CNC', 'NRML')),
    order_type            text NOT NULL CHECK (order_type IN ('MARKET', 'LIMIT', 'SL', 'SL-M')),
    validity              text NOT NULL CHECK (validity IN ('DAY', 'IOC')),
    quantity              bigint NOT NULL,
    filled_quantity       bigint NOT NULL DEFAULT 0,
    price_paise           bigint NOT NULL DEFAULT 0,
    trigger_paise         bigint NOT NULL DEFAULT 0,
    fill_value_paise      bigint NOT NULL DEFAULT 0,
    average_price_paise   bigint NOT NULL DEFAULT 0,
    margin_blocked_paise  bigint NOT NULL DEFAULT 0,
    charges_paise         bigint NOT NULL DEFAULT 0,
    triggered             boolean NOT NULL DEFAULT false,
    status                text NOT NULL
                          CHECK (status IN ('PENDING', 'EXECUTED', 'CANCELLED', 'REJECTED')),
    rejection_reason      text,
    cancel_reason         text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    executed_at           timestamptz
);
CREATE INDEX orders_account_created_idx ON orders (trading_account_id, created_at DESC, id DESC);
CREATE INDEX orders_account_status_idx
    ON orders (trading_account_id, status, created_at DESC, id DESC);
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC);
CREATE UNIQUE INDEX orders_client_order_id_idx
    ON orders (trading_account_id, client_order_id) WHERE client_order_id IS NOT NULL;

CREATE TABLE positions (
    id                    text PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    instrument_id         text NOT NULL,
    product               text NOT NULL CHECK (product IN ('MIS', 'CNC', 'NRML')),
    quantity              bigint NOT NULL,            -- signed: + long, - short
    cost_paise            bigint NOT NULL,            -- signed cost of the open quantity
    average_price_paise   bigint NOT NULL,
    margin_paise          bigint NOT NULL,
    realized_pnl_paise    bigint NOT NULL DEFAULT 0,
    stop_loss_paise       bigint,
    target_paise          bigint,
    status                text NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
    close_reason          text,                       -- CLOSED, SETTLED (became a holding)
    opened_at             timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    closed_at             timestamptz
);
CREATE INDEX positions_account_status_idx ON positions (trading_account_id, status, opened_at DESC);
CREATE UNIQUE INDEX positions_open_key_idx
    ON positions (trading_account_id, instrument_id, product) WHERE status = 'OPEN';

CREATE TABLE holdings (
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    instrument_id         text NOT NULL,
    quantity              bigint NOT NULL CHECK (quantity >= 0),
    cost_paise            bigint NOT NULL,
    updated_at            timestamptz NOT NULL,
    PRIMARY KEY (trading_account_id, instrument_id)
);

-- Funds blocked outside orders and positions (pending withdrawals, admin blocks).
CREATE TABLE fund_blocks (
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    id                    text NOT NULL,
    amount_paise          bigint NOT NULL,
    kind                  text NOT NULL,
    status                text NOT NULL CHECK (status IN ('BLOCKED', 'RELEASED')),
    created_at            timestamptz NOT NULL,
    released_at           timestamptz,
    PRIMARY KEY (trading_account_id, id)
);

-- The ledger, double entry. Every money movement is two legs of opposite sign written
-- together: the account's own book (CASH = balance, BLOCKED = blocked margin) and its
-- counterparty book (EXTERNAL for deposits and withdrawals, MARKET for realized P&L,
-- BROKERAGE and TAXES for charges, BLOCK_CONTRA for blocks and releases). So the legs sum to
-- zero system-wide and per account, SUM(CASH) is the balance and SUM(BLOCKED) the blocked total.
-- ``balance_after_paise`` is the account's book total after the leg (NULL on counterparty legs).
CREATE TABLE transactions (
    id                    bigserial PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    account_seq           bigint NOT NULL,            -- the journaled event that caused it
    leg                   smallint NOT NULL,          -- position within that event's legs
    book                  text NOT NULL,
    counterparty_book     text NOT NULL,
    kind                  text NOT NULL,              -- DEPOSIT, WITHDRAWAL, PNL, CHARGE, ...
    amount_paise          bigint NOT NULL,
    balance_after_paise   bigint,
    reference             text NOT NULL DEFAULT '',
    description           text NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL,
    UNIQUE (trading_account_id, account_seq, leg)
);
CREATE INDEX transactions_account_time_idx
    ON transactions (trading_account_id, created_at DESC, id DESC);

CREATE TABLE bank_accounts (
    id                    text PRIMARY KEY,
    user_id               text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bank_name             text NOT NULL,
    account_number        text NOT NULL,
    ifsc                  text NOT NULL,
    account_holder        text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    removed_at            timestamptz
);
CREATE INDEX bank_accounts_user_idx ON bank_accounts (user_id);

CREATE TABLE deposits (
    id                    text PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    bank_account_id       text REFERENCES bank_accounts (id),
    amount_paise          bigint NOT NULL CHECK (amount_paise > 0),
    reference             text NOT NULL DEFAULT '',
    status                text NOT NULL DEFAULT 'PENDING'
                          CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    remarks               text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    decided_at            timestamptz,
    decided_by            text REFERENCES users (id)
);
CREATE INDEX deposits_status_idx ON deposits (status, created_at DESC);
CREATE INDEX deposits_account_idx ON deposits (trading_account_id, created_at DESC);

CREATE TABLE withdrawals (
    id                    text PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    bank_account_id       text REFERENCES bank_accounts (id),
    amount_paise          bigint NOT NULL CHECK (amount_paise > 0),
    block_id              text,                       -- the fund block holding the amount
    status                text NOT NULL DEFAULT 'PENDING'
                          CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    remarks               text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    decided_at            timestamptz,
    decided_by            text REFERENCES users (id)
);
CREATE INDEX withdrawals_status_idx ON withdrawals (status, created_at DESC);
CREATE INDEX withdrawals_account_idx ON withdrawals (trading_account_id, created_at DESC);

CREATE TABLE trading_logs (
    id                    bigserial PRIMARY KEY,
    trading_account_id    text,
    account_seq           bigint,
    category              text NOT NULL,              -- ORDER, POSITION, FUNDS, SYSTEM
    level                 text NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR')),
    message               text NOT NULL,
    details               jsonb NOT NULL DEFAULT '{}'::jsonb,
    stack                 text,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trading_logs_account_time_idx ON trading_logs (trading_account_id, created_at DESC);
CREATE INDEX trading_logs_category_time_idx ON trading_logs (category, created_at DESC);

-- The append-only journal. ``seq`` orders everything globally; (account_id, account_seq)
-- is the idempotency key: a batch written twice lands once.
CREATE TABLE events (
    seq                   bigserial PRIMARY KEY,
    account_id            text NOT NULL,
    account_seq           bigint NOT NULL CHECK (account_seq > 0),
    type                  text NOT NULL,
    payload               jsonb NOT NULL,
    occurred_at           timestamptz NOT NULL,       -- the engine clock (event at_ms)
    created_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, account_seq)
);
