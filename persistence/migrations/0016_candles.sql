-- One-minute OHLCV candles (docs/ARCHITECTURE.md "Candles"): folded from the market's ticks by
-- gateway/candle_recorder.py, or seeded before the first start for the simulated market
-- (engine/market/history.py). Prices in paise; ``minute`` is the minute's start instant.
-- The primary key is also the index of every read: one instrument's minutes over a time range,
-- in order, is one range scan of it.
CREATE TABLE candles (
    instrument_id   text NOT NULL,
    minute          timestamptz NOT NULL,
    open_paise      bigint NOT NULL CHECK (open_paise > 0),
    high_paise      bigint NOT NULL,
    low_paise       bigint NOT NULL CHECK (low_paise > 0),
    close_paise     bigint NOT NULL,
    volume          bigint NOT NULL DEFAULT 0 CHECK (volume >= 0),
    oi              bigint NOT NULL DEFAULT 0 CHECK (oi >= 0),
    PRIMARY KEY (instrument_id, minute),
    CHECK (high_paise >= greatest(open_paise, close_paise, low_paise)),
    CHECK (low_paise <= least(open_paise, close_paise))
);
-- The retention purge deletes by time alone. Recorded minutes arrive in time order, so a BRIN
-- index (a few pages, next to nothing to maintain on each write) finds the old ones without a
-- second B-tree as large as the table.
CREATE INDEX candles_minute_brin ON candles USING brin (minute);

-- Where the seeded history of each instrument ends: the first minute the simulated market
-- priced it after the first start, its price then (the history's last close, so a chart joins
-- without a jump) and, for an option, the implied volatility it was priced at. One row per
-- instrument priced at the first start; ``generated`` once its history is in ``candles``
-- (generated the first time it is read, see engine/market/history.py).
CREATE TABLE candle_seeds (
    instrument_id   text PRIMARY KEY,
    first_minute    timestamptz NOT NULL,
    price_paise     bigint NOT NULL CHECK (price_paise > 0),
    iv              double precision,
    generated       boolean NOT NULL DEFAULT false
);
