-- After-market orders (Kite Connect's variety ``amo``): placed while the instrument's session is
-- closed and held by the market until it opens (docs/DOMAIN.md §3). Kept with the order and
-- recovered with it, so a restart still holds it for the open.
ALTER TABLE orders ADD COLUMN after_market boolean NOT NULL DEFAULT false;
