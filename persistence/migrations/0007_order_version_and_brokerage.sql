-- An order's version (bumped by each modification: the market's executions carry the version
-- they were made for) and the brokerage its fills have paid (brokerage is per executed order),
-- so an account rebuilt from its projections matches one replayed from its journal.
ALTER TABLE orders
    ADD COLUMN version integer NOT NULL DEFAULT 0,
    ADD COLUMN brokerage_paise bigint NOT NULL DEFAULT 0;
