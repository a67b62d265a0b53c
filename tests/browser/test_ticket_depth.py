"""The order ticket's market depth in a real browser, against the real server and PostgreSQL.

Proves that a person who picks an instrument sees its book in the ticket: five bids and five
asks, bids falling and asks rising from a best bid and ask that are the quote's own, quantities
in lakh grouping with their totals, refreshed live over the websocket (the ticket's instrument
is subscribed in full mode, the one it left drops back to quote mode, and full mode comes back
after a reconnect); and that choosing a bid sets the ticket to SELL LIMIT at that bid and an ask
to BUY LIMIT at that ask, keeping the quantity; and that a book with no priced level (the
quotes route and the socket made to answer one) reads "No depth yet". Screenshot in
test-artifacts/browser/ (26).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.browser.test_dashboard import TIMEOUT_MS, register_on_page, watched_page
from tests.e2e.conftest import e2e_config

CONFIG = e2e_config(accounts={"opening_balance": "1000000"})
PRICE = re.compile(r"^\d{1,3}(,\d{3})*\.\d\d$")  # below ₹1 lakh, Indian and western grouping agree
EMPTY_BOOK: dict[str, list[Any]] = {"buy": [], "sell": []}
LAKH = re.compile(r"^(\d{1,3}|\d{1,2}(,\d\d)*,\d{3})$")  # 999, 1,000, 12,34,567

# Everything the depth table shows, read in one turn of the page's event loop (one quote).
READ_DEPTH = """() => {
  const side = (cls) => [...document.querySelectorAll("#depth-levels tr")].map((row) => {
    const cells = [...row.children];
    const button = row.querySelector(`td.${cls} button`);
    const [orders, qty] = cls === "bid" ? [cells[0], cells[1]] : [cells[5], cells[4]];
    return {
      price: button.dataset.price ? Number(button.dataset.price) : null,
      text: button.textContent, disabled: button.disabled,
      qty: qty.textContent, orders: orders.textContent,
    };
  });
  return {
    symbol: document.querySelector("#depth-symbol").textContent,
    bids: side("bid"), asks: side("ask"),
    bidTotal: document.querySelector('[data-depth="bidTotal"]').textContent,
    askTotal: document.querySelector('[data-depth="askTotal"]').textContent,
  };
}"""

# Record the websocket frames the page sends, and the price a depth button held when clicked
# (captured before the button's own handler, in the same turn: the market ticks meanwhile).
SPY = """() => {
  window.sentFrames = [];
  const feed = window.paperdesk.feed;
  const send = feed.send.bind(feed);
  feed.send = (frame) => { window.sentFrames.push(frame); send(frame); };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("#depth-table button");
    if (button) window.clickedPrice = button.dataset.price;
  }, true);
}"""
SUBSCRIPTIONS = "window.sentFrames.filter((frame) => frame.op !== 'ping')"


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_ticket_depth_when_instrument_picked_then_book_live_and_prices_set_limit_orders(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with browser_on_server(chromium_path, database, CONFIG, master) as (browser, base):
            await depth_journey(browser, base, artifacts)

    asyncio.run(main())


async def depth_journey(browser: Any, base: str, artifacts: Path) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    page = await watched_page(browser, problems)
    await register_on_page(page, base, "Kavya Rao", "depth@paperdesk.test", "pepper-orbit-93")
    await expect(page.locator("#feed-status")).to_have_text(re.compile("live"))
    await page.evaluate(SPY)

    # -- pick an instrument: its book shows in the ticket -----------------------------------
    first = page.locator("#watchlist .watch-item").first
    await expect(first).to_have_attribute("aria-pressed", "true")  # the first is the ticket's
    first_id = await first.get_attribute("data-id")
    pick = page.locator("#watchlist .watch-item", has_text="INFY")
    picked_id = await pick.get_attribute("data-id")
    assert first_id and picked_id and first_id != picked_id
    await pick.click()
    await expect(page.locator("#depth-symbol")).to_have_text("INFY")
    table = page.get_by_role("table", name=re.compile("Market depth"))
    await expect(table).to_be_visible()
    await expect(table.locator("#depth-empty")).to_be_hidden()
    await expect(table.locator("#depth-levels tr")).to_have_count(5)
    await expect(table.locator("td.bid button:enabled")).to_have_count(5)
    await expect(table.locator("td.ask button:enabled")).to_have_count(5)
    for header in ("Orders", "Qty", "Bid", "Ask"):
        await expect(
            table.get_by_role("columnheader", name=header, exact=True).first
        ).to_be_visible()

    shown = await page.evaluate(READ_DEPTH)
    check_book(shown)

    # -- the best levels are the quote's bid and ask (the market ticks: read both a few times)
    url = f"/api/quotes?q={picked_id}&mode=full"
    fetch = f"fetch('{url}').then((r) => r.json()).then((b) => b.data[{picked_id!r}])"
    matched = False
    for _ in range(20):
        quote = await page.evaluate(fetch)
        depth = quote["depth"]
        assert depth["buy"][0]["price"] == quote["bid"], quote
        assert depth["sell"][0]["price"] == quote["ask"], quote
        shown = await page.evaluate(READ_DEPTH)
        after = await page.evaluate(fetch)
        best = (shown["bids"][0]["price"], shown["asks"][0]["price"])
        if best in ((quote["bid"], quote["ask"]), (after["bid"], after["ask"])):
            matched = True
            break
        await asyncio.sleep(0.1)
    assert matched, (shown, quote, after)

    # -- live: full mode for the ticket's instrument, quote mode again for the one it left ----
    frames = await page.evaluate("window.sentFrames")
    assert {"op": "subscribe", "instruments": [picked_id], "mode": "full"} in frames, frames
    assert {"op": "subscribe", "instruments": [first_id], "mode": "quote"} in frames, frames
    assert await page.evaluate("[...window.paperdesk.feed.depthHolders.keys()]") == [picked_id]
    await refreshes(page, shown)

    await page.evaluate("window.paperdesk.feed.drop()")
    await expect(page.locator("#feed-status")).not_to_have_text(re.compile("live"))
    await expect(page.locator("#feed-status")).to_have_text(re.compile("live"))
    frames = await page.evaluate(SUBSCRIPTIONS)
    assert frames[-1] == {"op": "subscribe", "instruments": [picked_id], "mode": "full"}, frames
    await refreshes(page, await page.evaluate(READ_DEPTH))

    # -- a bid sells at that bid, an ask buys at that ask (LIMIT), the quantity kept ---------
    ticket = page.locator("#ticket-form")
    await ticket.get_by_label("Quantity").fill("3")
    await table.locator("#depth-levels tr").nth(1).locator("td.bid button").click()
    clicked = float(await page.evaluate("window.clickedPrice"))
    await expect(ticket.locator("#side-sell")).to_be_checked()
    await expect(ticket.get_by_label("Order type")).to_have_value("LIMIT")
    await expect(ticket.get_by_label("Price", exact=True)).to_have_value(f"{clicked:.2f}")
    await expect(page.locator("#ticket-submit")).to_have_text("Sell 3 INFY")

    ask = table.locator("#depth-levels tr").first.locator("td.ask button")
    await expect(ask).to_have_accessible_name(re.compile(r"^Buy INFY at ask [\d,]+\.\d\d$"))
    await ask.click()
    clicked = float(await page.evaluate("window.clickedPrice"))
    await expect(ticket.locator("#side-buy")).to_be_checked()
    await expect(ticket.get_by_label("Order type")).to_have_value("LIMIT")
    await expect(ticket.get_by_label("Price", exact=True)).to_have_value(f"{clicked:.2f}")
    await expect(ticket.get_by_label("Price", exact=True)).to_be_enabled()
    await expect(page.locator("#ticket-submit")).to_have_text("Buy 3 INFY")
    await expect(ticket.locator("#ticket-preview")).not_to_have_class(re.compile(r"\bstale\b"))
    await page.locator(".ticket").screenshot(path=artifacts / "26-ticket-depth-laptop.png")

    # -- the ticket moves on: the depth follows, and the instrument left drops back ----------
    await page.locator("#watchlist .watch-item", has_text="TCS").click()
    await expect(page.locator("#depth-symbol")).to_have_text("TCS")
    await expect(table.locator("td.ask button:enabled")).to_have_count(5)
    check_book(await page.evaluate(READ_DEPTH))
    frames = await page.evaluate(SUBSCRIPTIONS)
    assert frames[-1] == {"op": "subscribe", "instruments": [picked_id], "mode": "quote"}, frames
    await page.context.close()
    await no_depth_yet(browser, base)
    assert problems == []


async def no_depth_yet(browser: Any, base: str) -> None:
    """A book with no level priced (an instrument with no price yet) reads "No depth yet": the
    quotes route and the socket are both made to answer empty books."""
    from playwright.async_api import expect

    problems: list[str] = []
    page = await watched_page(browser, problems)

    async def empty_quotes(route: Any) -> None:
        response = await route.fetch()
        body = await response.json()
        for quote in body.get("data", {}).values():
            quote["depth"] = EMPTY_BOOK
        await route.fulfill(response=response, json=body)

    def empty_frames(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "quote" and "depth" in frame["data"]:
                frame["data"]["depth"] = EMPTY_BOOK
            ws.send(json.dumps(frame))

        server.on_message(from_server)

    await page.route(re.compile(r"/api/quotes\?"), empty_quotes)
    await page.route_web_socket(re.compile(r"/api/ws$"), empty_frames)
    await register_on_page(page, base, "Ravi Iyer", "nodepth@paperdesk.test", "copper-heron-26")
    await expect(page.locator("#feed-status")).to_have_text(re.compile("live"))
    await expect(page.locator("#depth-symbol")).to_have_text("RELIANCE")
    await expect(page.locator("#chart-quote")).to_contain_text("bid")  # quotes have arrived
    await expect(page.locator("#ticket-submit")).to_be_enabled()
    await page.wait_for_timeout(500)  # quote frames (with empty books) have arrived meanwhile
    await expect(page.locator("#depth-empty")).to_be_visible()
    await expect(page.locator("#depth-empty")).to_have_text("No depth yet")
    await expect(page.locator("#depth-levels")).to_be_hidden()
    await expect(page.locator('[data-depth="bidTotal"]')).to_have_text("—")
    await page.context.close()
    assert problems == []


def check_book(shown: dict[str, Any]) -> None:
    """Five levels a side, bids falling and asks rising from a touch that does not cross,
    prices and quantities formatted, totals the sum of the levels."""
    bids, asks = shown["bids"], shown["asks"]
    assert len(bids) == len(asks) == 5, shown
    for level in bids + asks:
        assert not level["disabled"] and level["price"], shown
        assert PRICE.match(level["text"]), level
        assert LAKH.match(level["qty"]) and LAKH.match(level["orders"]), level
        assert float(level["text"].replace(",", "")) == level["price"], level
    bid_prices = [level["price"] for level in bids]
    ask_prices = [level["price"] for level in asks]
    assert bid_prices == sorted(bid_prices, reverse=True) and len(set(bid_prices)) == 5, shown
    assert ask_prices == sorted(ask_prices) and len(set(ask_prices)) == 5, shown
    assert bid_prices[0] < ask_prices[0], shown
    assert number(shown["bidTotal"]) == sum(number(level["qty"]) for level in bids), shown
    assert number(shown["askTotal"]) == sum(number(level["qty"]) for level in asks), shown
    assert LAKH.match(shown["bidTotal"]) and LAKH.match(shown["askTotal"]), shown


async def refreshes(page: Any, before: dict[str, Any]) -> None:
    """The table shows another book within the timeout (ticks arrive over the socket)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        now = await page.evaluate(READ_DEPTH)
        if now != before:
            check_book(now)
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the depth did not change in {TIMEOUT_MS} ms: {before}")
