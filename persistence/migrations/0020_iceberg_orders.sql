-- Iceberg orders (Kite Connect's variety ``iceberg``, docs/DOMAIN.md §3): each leg is an order
-- of its own, carrying its place in the iceberg so a restart goes on placing the legs after
-- it. All five are set on a leg and none on any other order.
ALTER TABLE orders
    ADD COLUMN iceberg_parent_id text,
    ADD COLUMN iceberg_leg integer,
    ADD COLUMN iceberg_legs integer,
    ADD COLUMN iceberg_leg_quantity bigint,
    ADD COLUMN iceberg_total_quantity bigint,
    ADD CONSTRAINT orders_iceberg_whole CHECK (
        num_nulls(iceberg_parent_id, iceberg_leg, iceberg_legs, iceberg_leg_quantity,
                  iceberg_total_quantity) IN (0, 5)
    );
