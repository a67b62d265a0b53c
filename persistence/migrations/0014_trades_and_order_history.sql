-- Trades and order history (issue 19). Both are projections of the journal's order events,
-- written by persistence.writer in the same statement as the events (persistence/order_event_rows.py
-- builds their rows), only for events that statement really journaled, so a batch written twice
-- lands once.

-- One row per fill: every OrderFilled event is a trade (an order may fill in several).
-- ``id`` is '<order id>-<account_seq of the OrderFilled>': order ids are unique across the
-- server and an account's sequence numbers unique within it, so the id is unique, and it is a
-- function of the journal alone, so a replay, a re-projection and the backfill below all give
-- the same one.
CREATE TABLE trades (
    id                    text PRIMARY KEY,
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    account_seq           bigint NOT NULL,            -- the OrderFilled event
    order_id              text NOT NULL,
    instrument_id         text NOT NULL,
    side                  text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    product               text NOT NULL CHECK (product IN ('MIS', 'CNC', 'NRML')),
    quantity              bigint NOT NULL CHECK (quantity > 0),
    price_paise           bigint NOT NULL,            -- 0 for an option expiring worthless
    charges_paise         bigint NOT NULL,            -- this fill's brokerage and taxes
    executed_at           timestamptz NOT NULL        -- the engine clock (event at_ms)
);
-- An account's trades newest first, paged by (executed_at, id) as orders are by (created_at,
-- id); a trade date (IST) is a range of the same index.
CREATE INDEX trades_account_time_idx ON trades (trading_account_id, executed_at DESC, id DESC);
-- An order's trades in the order they happened.
CREATE INDEX trades_order_idx ON trades (order_id, account_seq);

-- One row per change of an order: what it became (``status``), its filled quantity and its
-- terms after the change. ``status``: PENDING (accepted), MODIFIED, TRIGGERED,
-- PARTIALLY_FILLED, EXECUTED (its last fill), CANCELLED and REJECTED, the last two with their
-- reason (a cancel reason, a rejection code).
CREATE TABLE order_history (
    trading_account_id    text NOT NULL REFERENCES trading_accounts (id),
    account_seq           bigint NOT NULL,            -- the order event
    order_id              text NOT NULL,
    status                text NOT NULL CHECK (status IN ('PENDING', 'MODIFIED', 'TRIGGERED',
                              'PARTIALLY_FILLED', 'EXECUTED', 'CANCELLED', 'REJECTED')),
    filled_quantity       bigint NOT NULL,
    quantity              bigint NOT NULL,
    price_paise           bigint NOT NULL,
    trigger_paise         bigint NOT NULL,
    reason                text,
    occurred_at           timestamptz NOT NULL,       -- the engine clock (event at_ms)
    PRIMARY KEY (trading_account_id, account_seq)
);
CREATE INDEX order_history_order_idx ON order_history (order_id, account_seq);

-- Backfill from the journal (payloads are the events' tagged JSON, engine/domain/events.py).
INSERT INTO trades (id, trading_account_id, account_seq, order_id, instrument_id, side, product,
    quantity, price_paise, charges_paise, executed_at)
SELECT (payload->>'order_id') || '-' || account_seq, account_id, account_seq,
    payload->>'order_id', payload->>'instrument_id', payload->>'side', payload->>'product',
    (payload->>'quantity')::bigint, (payload->>'price_paise')::bigint,
    (payload->>'charges_paise')::bigint, occurred_at
FROM events
WHERE type = 'OrderFilled';

-- Each order event with the order's terms and filled quantity after it: the terms are those of
-- the latest acceptance, rejection or modification at or before it (``terms_from`` numbers
-- them), the filled quantity the sum of its fills so far.
WITH order_events AS (
    SELECT account_id, account_seq, type, payload, occurred_at, payload->>'order_id' AS order_id,
        count(*) FILTER (WHERE type IN ('OrderAccepted', 'OrderRejected', 'OrderModified'))
            OVER same_order AS terms_from,
        sum(CASE WHEN type = 'OrderFilled' THEN (payload->>'quantity')::bigint ELSE 0 END)
            OVER same_order AS filled
    FROM events
    WHERE type IN ('OrderAccepted', 'OrderRejected', 'OrderModified', 'OrderTriggered',
        'OrderCancelled', 'OrderFilled')
    WINDOW same_order AS (PARTITION BY account_id, payload->>'order_id' ORDER BY account_seq)
),
with_terms AS (
    SELECT *, first_value(payload) OVER (
        PARTITION BY account_id, order_id, terms_from ORDER BY account_seq) AS terms
    FROM order_events
)
INSERT INTO order_history (trading_account_id, account_seq, order_id, status, filled_quantity,
    quantity, price_paise, trigger_paise, reason, occurred_at)
SELECT account_id, account_seq, order_id,
    CASE type
        WHEN 'OrderAccepted' THEN 'PENDING'
        WHEN 'OrderRejected' THEN 'REJECTED'
        WHEN 'OrderModified' THEN 'MODIFIED'
        WHEN 'OrderTriggered' THEN 'TRIGGERED'
        WHEN 'OrderCancelled' THEN 'CANCELLED'
        ELSE CASE payload->>'status_after' WHEN 'EXECUTED' THEN 'EXECUTED'
            ELSE 'PARTIALLY_FILLED' END
    END,
    filled, (terms->>'quantity')::bigint, (terms->>'price_paise')::bigint,
    (terms->>'trigger_paise')::bigint,
    CASE WHEN type IN ('OrderCancelled', 'OrderRejected') THEN payload->>'reason' END,
    occurred_at
FROM with_terms;
