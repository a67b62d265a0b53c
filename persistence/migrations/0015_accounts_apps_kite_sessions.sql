-- Several trading accounts per user (one per strategy), each with a name; API apps bound to one
-- of them; and the Kite Connect facade's login and access tokens (docs/KITE.md).

ALTER TABLE trading_accounts ADD COLUMN name text NOT NULL DEFAULT 'Main';

-- An app's api_secret is never stored: it is HMAC-SHA256(the server's app-secret key, the app's
-- id and ``secret_salt``), recomputed to verify checksums. The key lives outside the database
-- (gateway/kite/app_secrets.py), so a dump of this table alone reveals no secret.
CREATE TABLE api_apps (
    id                  text PRIMARY KEY,
    user_id             text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    trading_account_id  text NOT NULL REFERENCES trading_accounts (id),
    name                text NOT NULL,
    api_key             text NOT NULL UNIQUE,
    secret_salt         bytea NOT NULL,
    redirect_url        text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX api_apps_user_idx ON api_apps (user_id, created_at);

-- A login's request_token (SHA-256 only): exchanged once, within minutes, for an access token.
CREATE TABLE kite_request_tokens (
    token_hash   text PRIMARY KEY,
    app_id       text NOT NULL REFERENCES api_apps (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

-- Access tokens (SHA-256 only), ending at the next 06:00 IST after login as Kite's do.
CREATE TABLE kite_access_tokens (
    token_hash   text PRIMARY KEY,
    app_id       text NOT NULL REFERENCES api_apps (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX kite_access_tokens_app_idx ON kite_access_tokens (app_id);

-- A user's accounts are told apart by name (each user has had one, 'Main', until now).
CREATE UNIQUE INDEX trading_accounts_user_name_idx ON trading_accounts (user_id, name);
