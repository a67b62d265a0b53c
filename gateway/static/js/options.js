// The option chain and the payoff, in tabs beside the price chart.
//
// The chain comes from GET /api/optionchain and then stays live over the websocket: its contracts
// (up to CHAIN_LIVE_MAX, nearest the money first) and the underlying's spot are subscribed, and
// every option quote frame carries its IV and greeks, so each tick repaints its cells. The ATM
// strike and the future follow the forward, which no frame carries: the chain is read again every
// CHAIN_REFRESH_MS while it is shown. A bid opens the order ticket to SELL that contract, an ask
// to BUY it. The payoff (GET /api/trading/payoff) is read when shown, every PAYOFF_REFRESH_MS
// while shown, and when a position changes.

import { api, describeError } from "./api.js";
import { PayoffChart } from "./chart.js";
import { $, $$, debounce, h } from "./dom.js";
import { pnl, pnlClass, price } from "./format.js";

const CHAIN_LIVE_MAX = 200; // contracts subscribed at once (the socket allows 500 in all)
const CHAIN_REFRESH_MS = 15000;
const PAYOFF_REFRESH_MS = 10000; // a signed-in read: counted against the general limit
const DEFAULT_UNDERLYING = "NIFTY";
const HOLDER = "chain"; // the feed's name for what this screen watches

const strikes = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 2 });

/** A strike without trailing zero paise: 26,000 but 1,512.5. */
function strikeText(value) {
  return strikes.format(Number(value));
}

function fixed(value, digits) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

export class OptionsScreen {
  constructor({ feed, trading, toast }) {
    this.feed = feed;
    this.trading = trading;
    this.toast = toast;
    this.underlyings = [];
    this.chain = null;
    this.cells = new Map(); // instrumentId -> {ltp, bid, ask, iv, delta, side}
    this.live = []; // instrument ids this screen subscribed
    this.spotId = null;
    this.shown = "chart";
    this.chainTimer = 0;
    this.payoffTimer = 0;
    this.active = false;
    this.payoffChart = new PayoffChart($("#payoff-chart"));
    this.refreshPayoffSoon = debounce(() => this.loadPayoff(), 300);
    this.bind();
  }

  // -- lifecycle ---------------------------------------------------------------------------

  async start() {
    this.active = true;
    try {
      this.underlyings = (await api("GET", "/api/underlyings")).items || [];
    } catch (error) {
      this.underlyings = [];
      this.status(`Underlyings could not be loaded. ${describeError(error)}`);
    }
    const withOptions = this.underlyings.filter((u) => u.optionExpiries.length);
    fillSelect($("#chain-underlying"), withOptions.map((u) => u.underlying), DEFAULT_UNDERLYING);
    fillSelect($("#payoff-underlying"), this.underlyings.map((u) => u.underlying), DEFAULT_UNDERLYING);
    if (this.shown !== "chart") this.showTab(this.shown);
  }

  stop() {
    this.active = false;
    this.stopTimers();
    this.unwatchChain();
    this.chain = null;
  }

  onFrame(frame) {
    if (!this.active) return;
    if (frame.type === "quote") this.onQuote(frame.data);
    else if (frame.type === "position" && this.shown === "payoff") this.refreshPayoffSoon();
  }

  // -- tabs --------------------------------------------------------------------------------

  bind() {
    const tabs = $$('[role="tab"]', $(".tabs"));
    for (const tab of tabs) {
      tab.addEventListener("click", () => this.showTab(tab.id.replace("tab-", "")));
      tab.addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
        next.focus();
        this.showTab(next.id.replace("tab-", ""));
      });
    }
    $("#chain-underlying").addEventListener("change", () => this.loadChain(null));
    $("#chain-expiry").addEventListener("change", (e) => this.loadChain(e.target.value));
    $("#payoff-underlying").addEventListener("change", () => this.loadPayoff());
  }

  showTab(name) {
    this.shown = name;
    for (const tab of $$('[role="tab"]', $(".tabs"))) {
      const selected = tab.id === `tab-${name}`;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
    }
    this.stopTimers();
    if (!this.active) return;
    if (name === "chain") {
      this.loadChain($("#chain-expiry").value || null);
      this.chainTimer = setInterval(() => this.loadChain($("#chain-expiry").value || null), CHAIN_REFRESH_MS);
    } else {
      this.unwatchChain();
    }
    if (name === "payoff") {
      this.loadPayoff();
      this.payoffTimer = setInterval(() => this.loadPayoff(), PAYOFF_REFRESH_MS);
    }
  }

  stopTimers() {
    clearInterval(this.chainTimer);
    clearInterval(this.payoffTimer);
  }

  status(text) {
    $("#chain-status").textContent = text;
  }

  // -- the chain ---------------------------------------------------------------------------

  async loadChain(expiry) {
    const underlying = $("#chain-underlying").value;
    if (!underlying) {
      this.status("No options are listed.");
      return;
    }
    const params = new URLSearchParams({ underlying });
    if (expiry) params.set("expiry", expiry);
    let chain;
    try {
      chain = await api("GET", `/api/optionchain?${params}`);
    } catch (error) {
      this.status(`The option chain could not be loaded. ${describeError(error)}`);
      return;
    }
    if (this.shown !== "chain" || underlying !== $("#chain-underlying").value) return; // stale
    const rebuilt = !this.chain || this.chain.underlying !== chain.underlying || this.chain.expiry !== chain.expiry;
    this.chain = chain;
    fillSelect($("#chain-expiry"), chain.expiries, chain.expiry);
    this.paintSummary();
    if (rebuilt) this.renderChain();
    else this.repaintChain();
    this.watchChain();
    this.status("");
  }

  paintSummary() {
    const chain = this.chain;
    const out = (key) => $(`[data-chain="${key}"]`);
    out("spot").textContent = price(chain.spot);
    out("futureLabel").textContent = chain.futureSource === "forward" ? "Forward" : "Future";
    out("future").textContent = price(chain.future);
    out("atmStrike").textContent = price(chain.atmStrike);
  }

  renderChain() {
    const chain = this.chain;
    this.cells.clear();
    const rows = chain.strikes.map((row) => {
      const atm = row.strike === chain.atmStrike;
      const strike = h(
        "th",
        { scope: "row", class: "strike num" },
        strikeText(row.strike),
        atm ? h("span", { class: "atm-tag" }, "ATM") : "",
      );
      return h(
        "tr",
        { dataset: { strike: String(row.strike), atm: String(atm) }, class: atm ? "atm" : undefined },
        ...this.sideCells(row.call, "call", row.strike),
        strike,
        ...this.sideCells(row.put, "put", row.strike),
      );
    });
    const body = $("#chain-table tbody");
    if (rows.length) body.replaceChildren(...rows);
    else body.replaceChildren(h("tr", {}, h("td", { colspan: 11, class: "empty" }, "No strikes listed.")));
    this.paintMoneyness();
  }

  /** The five cells of one side, calls mirrored (IV, delta, LTP, bid, ask | bid, ask, LTP, …). */
  sideCells(option, side, strike) {
    if (!option) {
      return Array.from({ length: 5 }, () => h("td", { class: `num ${side} none` }, ""));
    }
    const cell = (key) => h("td", { class: `num ${side} ${key}` }, "");
    const quoteButton = (orderSide) =>
      h(
        "button",
        {
          type: "button",
          class: `quote-btn ${orderSide === "BUY" ? "ask" : "bid"}`,
          dataset: { instrumentId: option.instrumentId, side: orderSide },
          onclick: () => this.trading.openTicket(option.instrumentId, option.symbol, orderSide),
        },
        "—",
      );
    const parts = {
      iv: cell("iv"),
      delta: cell("delta"),
      ltp: cell("ltp"),
      bid: quoteButton("SELL"),
      ask: quoteButton("BUY"),
      side,
      strike,
      symbol: option.symbol,
    };
    this.cells.set(option.instrumentId, parts);
    this.paintSide(option.instrumentId, option);
    const bid = h("td", { class: `num ${side} bid` }, parts.bid);
    const ask = h("td", { class: `num ${side} ask` }, parts.ask);
    const ordered = [parts.iv, parts.delta, parts.ltp, bid, ask];
    return side === "call" ? ordered : [bid, ask, parts.ltp, parts.delta, parts.iv];
  }

  repaintChain() {
    for (const row of this.chain.strikes) {
      for (const option of [row.call, row.put]) if (option) this.paintSide(option.instrumentId, option);
    }
    const atm = this.chain.atmStrike;
    for (const tr of $$("#chain-table tbody tr[data-strike]")) {
      const isAtm = Number(tr.dataset.strike) === atm;
      if ((tr.dataset.atm === "true") === isAtm) continue;
      tr.dataset.atm = String(isAtm);
      tr.classList.toggle("atm", isAtm);
      const head = tr.querySelector("th.strike");
      head.querySelector(".atm-tag")?.remove();
      if (isAtm) head.append(h("span", { class: "atm-tag" }, "ATM"));
    }
    this.paintMoneyness();
  }

  /** In-the-money cells shaded: calls struck below the future, puts above it. */
  paintMoneyness() {
    const forward = this.chain?.future;
    for (const parts of this.cells.values()) {
      const itm = forward ? (parts.side === "call" ? parts.strike < forward : parts.strike > forward) : false;
      for (const key of ["iv", "delta", "ltp"]) parts[key].classList.toggle("itm", itm);
      for (const key of ["bid", "ask"]) parts[key].parentElement?.classList.toggle("itm", itm);
    }
  }

  paintSide(id, quote) {
    const parts = this.cells.get(id);
    if (!parts) return;
    if (quote.ltp !== undefined) {
      const before = Number(parts.ltp.dataset.value || 0);
      const ltp = Number(quote.ltp);
      parts.ltp.textContent = price(quote.ltp);
      parts.ltp.dataset.value = String(ltp);
      if (before && ltp !== before) parts.ltp.classList.toggle("up", ltp > before);
      if (before && ltp !== before) parts.ltp.classList.toggle("down", ltp < before);
    }
    if (quote.bid !== undefined) {
      parts.bid.textContent = price(quote.bid);
      parts.bid.setAttribute("aria-label", `Sell ${parts.symbol} at bid ${price(quote.bid)}`);
    }
    if (quote.ask !== undefined) {
      parts.ask.textContent = price(quote.ask);
      parts.ask.setAttribute("aria-label", `Buy ${parts.symbol} at ask ${price(quote.ask)}`);
    }
    if (quote.iv !== undefined) parts.iv.textContent = fixed(quote.iv, 2);
    if (quote.delta !== undefined) {
      parts.delta.textContent = fixed(quote.delta, 2);
      parts.delta.title = quote.delta === null ? "" : `delta ${fixed(quote.delta, 4)}`;
    }
  }

  onQuote(data) {
    if (this.cells.has(data.instrumentId)) this.paintSide(data.instrumentId, data);
    else if (this.chain && data.instrumentId === this.spotId) {
      $('[data-chain="spot"]').textContent = price(data.ltp);
    }
  }

  watchChain() {
    const chain = this.chain;
    const byDistance = [...chain.strikes].sort(
      (a, b) => Math.abs(a.strike - chain.atmStrike) - Math.abs(b.strike - chain.atmStrike),
    );
    const ids = byDistance
      .flatMap((row) => [row.call?.instrumentId, row.put?.instrumentId])
      .filter(Boolean)
      .slice(0, CHAIN_LIVE_MAX);
    const spot = this.underlyings.find((u) => u.underlying === chain.underlying)?.spotInstrumentId;
    this.spotId = spot || null;
    if (spot) ids.push(spot);
    const keep = new Set(ids);
    this.feed.unwatch(this.live.filter((id) => !keep.has(id)), HOLDER);
    this.feed.watch(ids, HOLDER);
    this.live = ids;
  }

  unwatchChain() {
    this.feed.unwatch(this.live, HOLDER);
    this.live = [];
  }

  // -- the payoff --------------------------------------------------------------------------

  async loadPayoff() {
    const underlying = $("#payoff-underlying").value;
    if (!underlying || !this.active) return;
    let payoff;
    try {
      const query = new URLSearchParams({ underlying });
      if (this.trading.accountId) query.set("tradingAccountId", this.trading.accountId);
      payoff = await api("GET", `/api/trading/payoff?${query}`);
    } catch (error) {
      $("#payoff-summary").textContent = `The payoff could not be loaded. ${describeError(error)}`;
      return;
    }
    if (underlying !== $("#payoff-underlying").value) return; // the choice changed meanwhile
    this.payoffChart.show(payoff);
    this.renderPayoff(payoff);
  }

  renderPayoff(payoff) {
    const summary = $("#payoff-summary");
    if (!payoff.positions.length) {
      summary.textContent = `No open futures or options on ${payoff.underlying}.`;
    } else {
      const middle = payoff.points[Math.floor(payoff.points.length / 2)];
      summary.replaceChildren(
        h("span", {}, `Spot ${price(payoff.spot)} · today `),
        h("span", { class: pnlClass(middle?.today) }, pnl(middle?.today)),
        h("span", { class: "muted" }, payoff.nearestExpiry ? ` · expiry ${payoff.nearestExpiry}` : ""),
      );
    }
    const rows = payoff.positions.map((p) =>
      h(
        "tr",
        { dataset: { positionId: p.id } },
        h("td", {}, h("strong", {}, p.symbol)),
        h("td", { class: `num ${p.quantity >= 0 ? "buy-text" : "sell-text"}` }, String(p.quantity)),
        h("td", { class: "num" }, price(p.averagePrice)),
        h("td", { class: "num" }, price(p.ltp)),
        h("td", { class: "num hide-sm" }, fixed(p.iv, 2)),
        h("td", { class: `num ${pnlClass(p.unrealizedPnl)}` }, pnl(p.unrealizedPnl)),
      ),
    );
    const body = $("#payoff-table tbody");
    if (rows.length) body.replaceChildren(...rows);
    else body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No positions.")));
  }
}

function fillSelect(select, values, preferred) {
  const current = select.value;
  const same = select.options.length === values.length && values.every((v, i) => select.options[i].value === v);
  if (!same) select.replaceChildren(...values.map((v) => h("option", { value: v }, v)));
  const chosen = values.includes(preferred) ? preferred : values.includes(current) ? current : values[0];
  if (chosen !== undefined) select.value = chosen;
}
