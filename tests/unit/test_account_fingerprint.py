"""The state fingerprint that every "decide never mutates" check and every replay check relies on.

Proves that ``state_fingerprint`` tells states apart by every part of an account: each top-level
field, each field of a working order, a position and a holding, and each map's keys as well as
its values, so a fingerprint that ignored a part (or were constant) would make those checks
vacuous; and that it depends on content only: equal states built in a different order, or
copied, have the same fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from engine.domain.account.state import AccountState, FundOperation, state_fingerprint
from engine.domain.enums import OrderStatus, OrderType, Product, Side, Validity
from engine.domain.gtt import Gtt, GttLeg, GttStatus, GttType
from engine.domain.orders import Order
from engine.domain.positions import Holding, Position

Change = Callable[[AccountState], None]


def _order(order_id: str = "o1") -> Order:
    return Order(
        order_id=order_id,
        client_order_id="c1",
        instrument_id="NSE:RELIANCE",
        side=Side.BUY,
        product=Product.MIS,
        order_type=OrderType.LIMIT,
        validity=Validity.DAY,
        quantity=10,
        price_paise=154280,
        trigger_paise=0,
        status=OrderStatus.PENDING,
        margin_blocked_paise=308_560,
        created_ms=1_000,
        updated_ms=1_000,
    )


def _state() -> AccountState:
    """An account with something in every part of its state."""
    state = AccountState(
        "acc-1",
        seq=7,
        balance_paise=1_000_000,
        deposits_paise=1_100_000,
        withdrawals_paise=50_000,
        realized_pnl_paise=-30_000,
        charges_paise=20_000,
        blocked_paise=400_000,
    )
    state.orders["o1"] = _order()
    state.positions["p1"] = Position(
        position_id="p1",
        instrument_id="NSE:WIPRO",
        product=Product.MIS,
        quantity=5,
        cost_paise=122_435,
        margin_paise=24_487,
        realized_pnl_paise=25,
        opened_ms=2_000,
    )
    state.position_ids["MIS:NSE:WIPRO"] = "p1"
    state.holdings["NSE:TCS"] = Holding("NSE:TCS", 2, 629_700)
    state.fund_blocks["b1"] = 10_000
    state.portfolio_margin["NIFTY"] = 1_725_615
    state.client_order_ids["c1"] = "o1"
    state.dp_charged_day["NSE:TCS"] = 20_000
    state.pending_deposits["d1"] = 5_000
    state.pending_withdrawals["w1"] = 6_000
    state.fund_operations["k1"] = FundOperation(
        operation="ADD",
        amount_paise=1_000,
        operator_id="admin",
        balance_after_paise=1_000,
        account_seq=1,
        at_ms=3_000,
    )
    state.gtts["g1"] = Gtt(
        gtt_id="g1",
        instrument_id="NSE:RELIANCE",
        gtt_type=GttType.SINGLE,
        last_price_paise=154_280,
        legs=(GttLeg(150_000, Side.SELL, 1, OrderType.LIMIT, 150_000, Product.CNC),),
        status=GttStatus.ACTIVE,
        created_ms=4_000,
        updated_ms=4_000,
        expires_ms=5_000,
    )
    return state


def _set(name: str, value: object) -> Change:
    return lambda state: setattr(state, name, value)


CHANGES: list[tuple[str, Change]] = [
    ("account_id", _set("account_id", "acc-2")),
    ("seq", _set("seq", 8)),
    ("balance_paise", _set("balance_paise", 1_000_001)),
    ("deposits_paise", _set("deposits_paise", 1_100_001)),
    ("withdrawals_paise", _set("withdrawals_paise", 50_001)),
    ("realized_pnl_paise", _set("realized_pnl_paise", -29_999)),
    ("charges_paise", _set("charges_paise", 20_001)),
    ("blocked_paise", _set("blocked_paise", 399_999)),
    ("orders", lambda s: s.orders.update(o2=_order("o2"))),
    ("orders-key", lambda s: s.orders.update(o9=s.orders.pop("o1"))),
    ("order-filled-quantity", lambda s: setattr(s.orders["o1"], "filled_quantity", 1)),
    ("order-fill-value", lambda s: setattr(s.orders["o1"], "fill_value_paise", 154_280)),
    ("order-charges", lambda s: setattr(s.orders["o1"], "charges_paise", 1)),
    ("order-brokerage", lambda s: setattr(s.orders["o1"], "brokerage_paise", 1)),
    ("order-block", lambda s: setattr(s.orders["o1"], "margin_blocked_paise", 308_559)),
    ("order-version", lambda s: setattr(s.orders["o1"], "version", 1)),
    ("order-triggered", lambda s: setattr(s.orders["o1"], "triggered", True)),
    ("order-price", lambda s: setattr(s.orders["o1"], "price_paise", 154_290)),
    ("positions", lambda s: s.positions.clear()),
    ("position-quantity", lambda s: setattr(s.positions["p1"], "quantity", 4)),
    ("position-cost", lambda s: setattr(s.positions["p1"], "cost_paise", 122_436)),
    ("position-margin", lambda s: setattr(s.positions["p1"], "margin_paise", 24_488)),
    ("position-realized", lambda s: setattr(s.positions["p1"], "realized_pnl_paise", 26)),
    ("position-stop-loss", lambda s: setattr(s.positions["p1"], "stop_loss_paise", 24_000)),
    ("position-target", lambda s: setattr(s.positions["p1"], "target_paise", 25_000)),
    ("position-buy-brokerage", lambda s: setattr(s.positions["p1"], "buy_brokerage_paise", 1)),
    ("position-buy-taxes", lambda s: setattr(s.positions["p1"], "buy_taxes_paise", 1)),
    ("position_ids", lambda s: s.position_ids.update({"MIS:NSE:WIPRO": "p2"})),
    ("holdings", lambda s: s.holdings.clear()),
    ("holding-quantity", lambda s: setattr(s.holdings["NSE:TCS"], "quantity", 3)),
    ("holding-cost", lambda s: setattr(s.holdings["NSE:TCS"], "cost_paise", 629_701)),
    ("fund_blocks", lambda s: s.fund_blocks.update(b1=10_001)),
    ("fund_blocks-key", lambda s: s.fund_blocks.update(b2=s.fund_blocks.pop("b1"))),
    ("client_order_ids", lambda s: s.client_order_ids.update(c2="o2")),
    ("dp_charged_day", lambda s: s.dp_charged_day.update({"NSE:TCS": 20_001})),
    ("pending_deposits", lambda s: s.pending_deposits.update(d1=5_001)),
    ("pending_withdrawals", lambda s: s.pending_withdrawals.update(w1=6_001)),
    ("fund_operations", lambda s: s.fund_operations.clear()),
    ("resets_total", _set("resets_total", 1)),
    ("last_reset_day", _set("last_reset_day", 20_416)),
    ("resets_on_last_day", _set("resets_on_last_day", 1)),
    ("expiry_margin_day", _set("expiry_margin_day", 20_416)),
    ("portfolio_margin", lambda s: s.portfolio_margin.update(NIFTY=1_725_616)),
    ("margin_called", _set("margin_called", True)),
    ("futures_settled_day", _set("futures_settled_day", 20_417)),
    ("gtts", lambda s: s.gtts.clear()),
    ("gtt-version", lambda s: setattr(s.gtts["g1"], "version", 1)),
    ("gtt-last-price", lambda s: setattr(s.gtts["g1"], "last_price_paise", 154_290)),
    (
        "portfolio_margin-key",
        lambda s: s.portfolio_margin.update(BANKNIFTY=s.portfolio_margin.pop("NIFTY")),
    ),
]


def test_changes_table_when_listed_then_covers_every_field_of_the_state() -> None:
    fields = {f.name for f in msgspec.structs.fields(AccountState)}
    assert fields <= {name.split("-")[0] for name, _ in CHANGES}


@pytest.mark.parametrize(("part", "change"), CHANGES, ids=[name for name, _ in CHANGES])
def test_fingerprint_when_one_part_of_state_differs_then_differs(part: str, change: Change) -> None:
    base, changed = _state(), _state()
    change(changed)
    assert base != changed, part

    assert state_fingerprint(changed) != state_fingerprint(base)


def test_fingerprint_when_state_equal_then_equal_and_a_sha256_hex_digest() -> None:
    first, second = _state(), _state()

    fingerprint = state_fingerprint(first)

    assert fingerprint == state_fingerprint(second)
    assert len(fingerprint) == 64
    assert int(fingerprint, 16) >= 0
    assert fingerprint == state_fingerprint(first)  # fingerprinting does not change the state
    assert first == second


def test_fingerprint_when_maps_filled_in_another_order_then_same() -> None:
    forward, backward = AccountState("acc-1"), AccountState("acc-1")
    for block_id, amount in (("b1", 100), ("b2", 200), ("b3", 300)):
        forward.fund_blocks[block_id] = amount
    for block_id, amount in (("b3", 300), ("b2", 200), ("b1", 100)):
        backward.fund_blocks[block_id] = amount
    assert list(forward.fund_blocks) != list(backward.fund_blocks)

    assert state_fingerprint(forward) == state_fingerprint(backward)


def test_fingerprint_when_empty_accounts_differ_by_id_only_then_differs() -> None:
    assert state_fingerprint(AccountState("acc-1")) != state_fingerprint(AccountState("acc-2"))
    assert state_fingerprint(AccountState("acc-1")) == state_fingerprint(AccountState("acc-1"))
