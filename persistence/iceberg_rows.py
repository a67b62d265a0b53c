"""An iceberg leg's place in its iceberg as the ``orders`` row keeps it (migration 0020): five
columns, all set on a leg and all null on any other order. Written by the projection, read
back by recovery and by the gateway's views."""

from __future__ import annotations

from typing import Any

from engine.domain.iceberg import Iceberg

ICEBERG_COLUMNS = (
    "iceberg_parent_id",
    "iceberg_leg",
    "iceberg_legs",
    "iceberg_leg_quantity",
    "iceberg_total_quantity",
)


def iceberg_columns(iceberg: Iceberg | None) -> tuple[Any, ...]:
    """The five ``iceberg_*`` columns, in ``ICEBERG_COLUMNS`` order."""
    if iceberg is None:
        return (None,) * len(ICEBERG_COLUMNS)
    return (
        iceberg.parent_order_id,
        iceberg.leg,
        iceberg.legs,
        iceberg.leg_quantity,
        iceberg.total_quantity,
    )


def iceberg_row(iceberg: Iceberg | None) -> dict[str, Any]:
    """The five columns by name (all None for an order of no iceberg)."""
    return dict(zip(ICEBERG_COLUMNS, iceberg_columns(iceberg), strict=True))


def iceberg_of_row(row: Any) -> Iceberg | None:
    """The iceberg an ``orders`` row's order is a leg of, if any."""
    if row["iceberg_parent_id"] is None:
        return None
    return Iceberg(
        parent_order_id=row["iceberg_parent_id"],
        leg=row["iceberg_leg"],
        legs=row["iceberg_legs"],
        leg_quantity=row["iceberg_leg_quantity"],
        total_quantity=row["iceberg_total_quantity"],
    )
