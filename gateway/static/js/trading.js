// The trading screen: watchlist and search, live quotes, the chart, the order ticket with its
// market depth (a bid or an ask sets a LIMIT order there) and its margin and charges preview
// (the option chain opens it on a contract too), orders (modify, cancel, their trades),
// positions (live P&L, close, stop-loss and target), GTT triggers (listed, deleted) and the
// funds strip.

import {
  api,
  clearFormErrors,
  describeError,
  MORE_FUNDS,
  placeFieldError,
  showFormError,
} from "./api.js";
import { PriceChart, TickStore } from "./chart.js";
import { $, $$, debounce, fillRows, h } from "./dom.js";
import {
  clock, icebergSplit, onTick, pnl, pnlClass, price, quantity, reasonText, roundToTick, rupees,
  when,
} from "./format.js";

const WATCHLIST_KEY = "paperdesk.watchlist";
const DEFAULT_WATCH = ["RELIANCE", "TCS", "HDFCBANK", "INFY", "NIFTY26DECFUT"];
const EQUITY_SEGMENTS = new Set(["NSE", "BSE"]);
const TICKET = "ticket"; // the feed's name for the ticket's instrument, watched in full mode
const DEPTH_LEVELS = 5;
const HISTORY_MS = 24 * 3600 * 1000; // how far back the chart loads stored minute candles

/** "Hedge benefit …" when the basket route says the ticket's order needs less with the
 * account's positions than it would alone, else "". */
function hedgeText(basket) {
  if (basket.status !== "fulfilled") return "";
  const [order] = basket.value.orders;
  const benefit = order.standalone.blocked - order.blocked;
  if (!(benefit >= 0.01)) return "";
  return `Hedge benefit ${rupees(benefit)}: ${rupees(order.standalone.blocked)} on its own.`;
}

export class TradingScreen {
  constructor({ feed, toast }) {
    this.feed = feed;
    this.toast = toast;
    this.accountId = null;
    this.instruments = new Map(); // instrumentId -> instrument from /api/instruments
    this.quotes = new Map(); // instrumentId -> {ltp, bid, ask, change, direction}
    this.watchIds = [];
    this.watchRows = new Map(); // instrumentId -> {row, ltp, change}
    this.selectedId = null;
    this.depthRows = []; // DEPTH_LEVELS rows of cells, built once and repainted at each quote
    this.positions = new Map(); // open positions by id
    this.positionRows = new Map(); // position id -> {row, ltp, pnl}
    this.orders = [];
    this.gtts = []; // the account's GTTs, newest first (GET /api/trading/gtt)
    this.placed = new Map(); // order id -> order placed from this page (for fill messages)
    this.placedAtMs = 0;
    this.funds = null;
    this.ticks = new TickStore();
    this.chart = new PriceChart($("#chart"));
    this.refreshOrdersSoon = debounce(() => this.loadOrders(), 150);
    this.refreshGttsSoon = debounce(() => this.loadGtts(), 150);
    this.refreshPositionsSoon = debounce(() => this.loadPositions(), 150);
    this.previewSoon = debounce(() => this.preview(), 250);
    this.bind();
    this.buildDepth();
  }

  // -- lifecycle ---------------------------------------------------------------------------

  async start(accountId) {
    this.accountId = accountId;
    await this.loadWatchlist();
    await Promise.all([this.loadFunds(), this.loadPositions(), this.loadOrders(), this.loadGtts()]);
    if (!this.selectedId && this.watchIds.length) this.select(this.watchIds[0]);
  }

  /** Act on another of the user's trading accounts: its funds, positions and orders replace
   * the last one's, and the ticket previews against it. */
  async switchAccount(accountId) {
    if (accountId === this.accountId) return;
    this.accountId = accountId;
    this.positions.clear();
    this.orders = [];
    this.gtts = [];
    this.placed.clear();
    this.renderPositions();
    this.renderOrders();
    this.renderGtts();
    $("#ticket-preview").classList.add("stale");
    this.previewSoon();
    await Promise.all([this.loadFunds(), this.loadPositions(), this.loadOrders(), this.loadGtts()]);
  }

  /** `tradingAccountId=<the selected account>`, for the trading routes' queries. */
  accountQuery() {
    return `tradingAccountId=${encodeURIComponent(this.accountId)}`;
  }

  stop() {
    this.accountId = null;
    this.positions.clear();
    this.orders = [];
    this.gtts = [];
  }

  onFrame(frame) {
    if (!this.accountId) return;
    // The feed carries every account of the user's: only the selected one's updates show.
    const owner = frame.data?.tradingAccountId;
    if (owner && owner !== this.accountId) return;
    if (frame.type === "quote") this.onQuote(frame.data);
    else if (frame.type === "order") this.onOrder(frame.data);
    else if (frame.type === "position") this.onPosition(frame.data);
    else if (frame.type === "gtt") this.refreshGttsSoon();
    else if (frame.type === "funds") this.renderFunds(frame.data);
    else if (frame.type === "marginCall") this.onMarginCall(frame.data);
    else if (frame.type === "error") this.toast(frame.data?.message || "Live feed error", "error");
  }

  /** After a reconnect the feed may have missed account updates: read them again. */
  resync() {
    if (!this.accountId) return;
    this.loadFunds();
    this.loadPositions();
    this.loadOrders();
    this.loadGtts();
  }

  // -- events ------------------------------------------------------------------------------

  bind() {
    const searchInput = $("#search-input");
    const search = debounce(() => this.search(), 200);
    searchInput.addEventListener("input", search);
    $("#search-exchange").addEventListener("change", search);
    $("#search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.search();
    });
    searchInput.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.closeSearch();
      if (e.key === "ArrowDown") $("#search-results button")?.focus();
    });
    $("#search-results").addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        this.closeSearch();
        searchInput.focus();
      }
    });

    for (const input of $$('input[name="chartMode"]')) {
      input.addEventListener("change", () => {
        this.chart.setMode(input.value);
        $("#chart-bucket-label").hidden = input.value !== "candles";
      });
    }
    $("#chart-bucket").addEventListener("change", (e) => {
      this.chart.setMode(this.chart.mode, Number(e.target.value));
    });

    const form = $("#ticket-form");
    const edited = () => {
      $("#ticket-preview").classList.add("stale"); // figures are for the old terms until the reply
      this.syncTicket();
      this.previewSoon();
    };
    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.placeOrder();
    });

    for (const input of $$('input[name="ordersFilter"]')) {
      input.addEventListener("change", () => this.loadOrders());
    }
    $("#modify-cancel").addEventListener("click", () => $("#modify-dialog").close());
    $("#trades-close").addEventListener("click", () => $("#trades-dialog").close());
    $("#modify-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.submitModify();
    });
  }

  // -- instruments and watchlist -----------------------------------------------------------

  async loadWatchlist() {
    let saved = [];
    try {
      saved = JSON.parse(localStorage.getItem(WATCHLIST_KEY) || "[]");
    } catch {
      saved = [];
    }
    if (!Array.isArray(saved) || !saved.length) {
      const found = await Promise.all(
        DEFAULT_WATCH.map((s) =>
          api("GET", `/api/instruments?search=${encodeURIComponent(s)}&limit=1`).catch(() => null),
        ),
      );
      saved = found.map((r) => r?.items?.[0]).filter(Boolean);
    }
    for (const instrument of saved) this.instruments.set(instrument.instrumentId, instrument);
    this.watchIds = saved.map((i) => i.instrumentId);
    this.renderWatchlist();
    this.feed.watch(this.watchIds);
    await this.seedQuotes(this.watchIds);
  }

  saveWatchlist() {
    const items = this.watchIds.map((id) => this.instruments.get(id)).filter(Boolean);
    localStorage.setItem(WATCHLIST_KEY, JSON.stringify(items));
  }

  async seedQuotes(ids) {
    if (!ids.length) return;
    const query = ids.map((id) => `q=${encodeURIComponent(id)}`).join("&");
    try {
      const reply = await api("GET", `/api/quotes?${query}&mode=full`);
      for (const [id, q] of Object.entries(reply.data || {})) {
        this.onQuote({ instrumentId: id, ...q });
      }
    } catch {
      // Quotes arrive over the websocket anyway.
    }
  }

  async search() {
    const text = $("#search-input").value.trim();
    const exchange = $("#search-exchange").value;
    const list = $("#search-results");
    if (!text) {
      this.closeSearch();
      return;
    }
    let items = [];
    try {
      const params = new URLSearchParams({ search: text, limit: "20" });
      if (exchange) params.set("exchange", exchange);
      items = (await api("GET", `/api/instruments?${params}`)).items || [];
    } catch (error) {
      list.replaceChildren(h("li", { class: "empty" }, describeError(error)));
      list.hidden = false;
      return;
    }
    list.replaceChildren(
      ...items.map((instrument) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "result",
              onclick: () => this.addToWatchlist(instrument),
            },
            h("span", { class: "sym" }, instrument.symbol),
            h("span", { class: "meta" }, `${instrument.exchange} · ${instrument.instrumentType}`),
            h("span", { class: "name" }, instrument.name),
          ),
        ),
      ),
    );
    if (!items.length) list.replaceChildren(h("li", { class: "empty" }, "No instrument matches."));
    list.hidden = false;
  }

  closeSearch() {
    $("#search-results").hidden = true;
    $("#search-results").replaceChildren();
  }

  addToWatchlist(instrument) {
    this.instruments.set(instrument.instrumentId, instrument);
    if (!this.watchIds.includes(instrument.instrumentId)) {
      this.watchIds.unshift(instrument.instrumentId);
      this.saveWatchlist();
      this.renderWatchlist();
      this.feed.watch([instrument.instrumentId]);
      this.seedQuotes([instrument.instrumentId]);
    }
    this.closeSearch();
    $("#search-input").value = "";
    this.select(instrument.instrumentId);
    this.watchRows.get(instrument.instrumentId)?.button.focus();
  }

  removeFromWatchlist(id) {
    this.watchIds = this.watchIds.filter((x) => x !== id);
    this.saveWatchlist();
    this.renderWatchlist();
    const held = [...this.positions.values()].some((p) => p.instrumentId === id);
    if (!held) this.feed.unwatch([id]); // the ticket watches its own instrument by itself
  }

  renderWatchlist() {
    this.watchRows.clear();
    const rows = this.watchIds.map((id) => {
      const instrument = this.instruments.get(id);
      const ltp = h("span", { class: "ltp num" }, "—");
      const change = h("span", { class: "chg num" }, "");
      const button = h(
        "button",
        {
          type: "button",
          class: "watch-item",
          "aria-pressed": String(id === this.selectedId),
          dataset: { id },
          onclick: () => this.select(id),
        },
        h("span", { class: "sym" }, instrument?.symbol || id),
        h("span", { class: "exch" }, instrument?.exchange || ""),
        ltp,
        change,
      );
      const remove = h(
        "button",
        {
          type: "button",
          class: "remove",
          "aria-label": `Remove ${instrument?.symbol || id} from the watchlist`,
          onclick: () => this.removeFromWatchlist(id),
        },
        "×",
      );
      const row = h("li", {}, button, remove);
      this.watchRows.set(id, { row, button, ltp, change });
      const quote = this.quotes.get(id);
      if (quote) this.paintWatchRow(id, quote);
      return row;
    });
    const list = $("#watchlist");
    list.replaceChildren(...rows);
    if (!rows.length) list.replaceChildren(h("li", { class: "empty" }, "Search to add instruments."));
  }

  /** The instrument's last day of stored minute candles, drawn before its live ticks. */
  async loadHistory(id, label) {
    // The server's clock, as its last quote told it (this browser's may differ), else ours.
    const now = this.serverTime || Date.now();
    const from = new Date(now - HISTORY_MS).toISOString();
    const query = new URLSearchParams({ instrumentId: id, interval: "minute", from });
    try {
      const body = await api("GET", `/api/market/candles?${query}`);
      this.ticks.setHistory(id, body.candles);
    } catch {
      return; // the chart still follows the live ticks
    }
    if (this.selectedId === id) this.chart.show(this.ticks.get(id), label, this.ticks.history(id));
  }

  select(id) {
    const before = this.selectedId;
    this.selectedId = id;
    // The ticket's instrument streams with its depth; the one it leaves drops back to quote
    // mode (or is unsubscribed) unless another screen still wants it.
    this.feed.watch([id], TICKET, { mode: "full" });
    if (before && before !== id) this.feed.unwatch([before], TICKET);
    for (const [key, parts] of this.watchRows) {
      parts.button.setAttribute("aria-pressed", String(key === id));
    }
    const instrument = this.instruments.get(id);
    $("#chart-title").textContent = instrument ? `${instrument.symbol} · ${instrument.exchange}` : id;
    this.chart.show(this.ticks.get(id), instrument?.symbol || id, this.ticks.history(id));
    this.loadHistory(id, instrument?.symbol || id);
    this.paintChartQuote();
    this.setupTicket(instrument);
    this.paintDepth();
    this.seedQuotes([id]); // the book now, before the first full-mode frame
  }

  /** Open the ticket on a contract with its side chosen (the option chain's bid and ask, the
   * depth's levels), and with a limit price when one is given (the depth's). */
  async openTicket(instrumentId, symbol, side, limitPrice = null) {
    if (!this.instruments.has(instrumentId)) {
      try {
        const params = new URLSearchParams({ search: symbol, limit: "20" });
        const found = (await api("GET", `/api/instruments?${params}`)).items || [];
        const instrument = found.find((i) => i.instrumentId === instrumentId);
        if (!instrument) throw new Error(`${symbol} is not in the instrument list.`);
        this.instruments.set(instrumentId, instrument);
      } catch (error) {
        this.toast(`Could not open the ticket for ${symbol}: ${describeError(error)}`, "error");
        return;
      }
    }
    // A price from the ticket's own depth keeps what the ticket holds (its quantity, product);
    // anything else opens the ticket afresh on the contract, as the option chain always did.
    if (instrumentId !== this.selectedId || !limitPrice) this.select(instrumentId);
    $(side === "SELL" ? "#side-sell" : "#side-buy").checked = true;
    if (limitPrice) {
      const instrument = this.instruments.get(instrumentId);
      $("#ticket-type").value = "LIMIT";
      $("#ticket-price").value = roundToTick(limitPrice, instrument.tickSize).toFixed(2);
    }
    $("#ticket-preview").classList.add("stale");
    this.syncTicket();
    this.previewSoon();
    $("#ticket-quantity").focus(); // scrolls the ticket into view where it sits below
  }

  // -- quotes ------------------------------------------------------------------------------

  onQuote(data) {
    const id = data.instrumentId;
    const ltp = Number(data.ltp);
    if (!id || !ltp) return;
    const before = this.quotes.get(id);
    const direction = before && ltp !== before.ltp ? (ltp > before.ltp ? "up" : "down") : before?.direction || "flat";
    const quote = { ...before, ...data, ltp, direction };
    this.quotes.set(id, quote);
    const at = Date.parse(data.timestamp);
    const firstTime = at && !this.serverTime;
    if (at) this.serverTime = at; // the market's clock, which history is asked against
    if (firstTime && this.selectedId) {
      // Asked before the server's clock was known: ask again against it.
      const selected = this.instruments.get(this.selectedId);
      this.loadHistory(this.selectedId, selected?.symbol || this.selectedId);
    }
    this.ticks.add(id, at || Date.now(), ltp);
    this.paintWatchRow(id, quote);
    if (id === this.selectedId) {
      this.chart.redraw();
      this.paintChartQuote();
      if (data.depth) this.paintDepth();
    }
    for (const [positionId, position] of this.positions) {
      if (position.instrumentId === id) this.paintPositionLive(positionId, position);
    }
    this.paintUnrealized();
  }

  paintWatchRow(id, quote) {
    const parts = this.watchRows.get(id);
    if (!parts) return;
    parts.ltp.textContent = price(quote.ltp);
    parts.ltp.className = `ltp num ${quote.direction}`;
    const pct = changePercent(quote);
    parts.change.textContent = pct === null ? "" : `${pct >= 0 ? "▲" : "▼"} ${Math.abs(pct).toFixed(2)}%`;
    parts.change.className = `chg num ${pct === null ? "flat" : pct >= 0 ? "up" : "down"}`;
  }

  paintChartQuote() {
    const quote = this.quotes.get(this.selectedId);
    const el = $("#chart-quote");
    if (!quote) {
      el.textContent = "";
      return;
    }
    const pct = changePercent(quote);
    el.replaceChildren(
      h("span", { class: `ltp ${quote.direction}` }, price(quote.ltp)),
      pct === null ? "" : h("span", { class: pct >= 0 ? "up" : "down" }, ` ${pct >= 0 ? "+" : "−"}${Math.abs(pct).toFixed(2)}%`),
      quote.bid ? h("span", { class: "muted" }, ` bid ${price(quote.bid)} · ask ${price(quote.ask)}`) : "",
    );
  }

  // -- market depth ------------------------------------------------------------------------

  /** The depth table's rows, once: orders, qty and bid | ask, qty and orders. A bid or an ask
   * is a button that sets the ticket to SELL at that bid or BUY at that ask (LIMIT). */
  buildDepth() {
    const level = (side) => {
      const orderSide = side === "buy" ? "SELL" : "BUY";
      const button = h("button", {
        type: "button",
        class: `quote-btn ${side === "buy" ? "bid" : "ask"}`,
        disabled: true,
        onclick: () => this.pickDepth(orderSide, button.dataset.price),
      }, "—");
      return {
        orders: h("td", { class: "num muted" }, "—"),
        quantity: h("td", { class: "num" }, "—"),
        button,
        price: h("td", { class: `num ${side === "buy" ? "bid" : "ask"}` }, button),
      };
    };
    this.depthRows = [];
    const rows = [];
    for (let n = 0; n < DEPTH_LEVELS; n += 1) {
      const buy = level("buy");
      const sell = level("sell");
      this.depthRows.push({ buy, sell });
      rows.push(h(
        "tr",
        { dataset: { level: String(n + 1) } },
        buy.orders, buy.quantity, buy.price, sell.price, sell.quantity, sell.orders,
      ));
    }
    $("#depth-levels").replaceChildren(...rows);
  }

  /** The ticket's instrument's book from its last quote, or "No depth yet" while it has none. */
  paintDepth() {
    const depth = this.quotes.get(this.selectedId)?.depth;
    const symbol = this.ticketInstrument()?.symbol || "";
    $("#depth-symbol").textContent = symbol;
    const buy = (depth?.buy || []).filter((l) => Number(l.price) > 0);
    const sell = (depth?.sell || []).filter((l) => Number(l.price) > 0);
    const empty = !buy.length && !sell.length;
    $("#depth-levels").hidden = empty;
    $("#depth-empty").hidden = !empty;
    const total = (levels) => levels.reduce((sum, l) => sum + Number(l.quantity || 0), 0);
    $('[data-depth="bidTotal"]').textContent = empty ? "—" : quantity(total(buy));
    $('[data-depth="askTotal"]').textContent = empty ? "—" : quantity(total(sell));
    if (empty) return;
    this.depthRows.forEach((row, n) => {
      paintLevel(row.buy, buy[n], `Sell ${symbol} at bid`);
      paintLevel(row.sell, sell[n], `Buy ${symbol} at ask`);
    });
  }

  /** A bid sells, an ask buys, at that price with a LIMIT order (the option chain's path). */
  pickDepth(orderSide, levelPrice) {
    const instrument = this.ticketInstrument();
    if (!instrument || !Number(levelPrice)) return;
    this.openTicket(instrument.instrumentId, instrument.symbol, orderSide, Number(levelPrice));
  }

  // -- order ticket ------------------------------------------------------------------------

  setupTicket(instrument) {
    const form = $("#ticket-form");
    clearFormErrors(form);
    const submit = $("#ticket-submit");
    if (!instrument) {
      submit.disabled = true;
      return;
    }
    $("#ticket-preview").classList.add("stale"); // the last instrument's figures until the reply
    $("#ticket-instrument").replaceChildren(
      h("strong", {}, instrument.symbol),
      ` ${instrument.name} · ${instrument.exchange} ${instrument.instrumentType}`,
    );
    const lot = instrument.lotSize || 1;
    const quantity = $("#ticket-quantity");
    quantity.min = String(lot);
    quantity.step = String(lot);
    quantity.value = String(lot);
    $("#lot-hint").textContent = lot > 1 ? `Lot ${lot}: multiples of ${lot}` : "Lot 1";
    for (const id of ["#ticket-price", "#ticket-trigger"]) {
      $(id).step = String(instrument.tickSize || 0.05);
      $(id).value = "";
    }
    $("#tick-hint").textContent = `Tick ${instrument.tickSize}`;
    const equity = EQUITY_SEGMENTS.has(instrument.segment);
    const product = $("#ticket-product");
    for (const option of product.options) {
      option.disabled = equity ? option.value === "NRML" : option.value === "CNC";
    }
    if (product.selectedOptions[0]?.disabled) product.value = "MIS";
    submit.disabled = false;
    this.syncTicket();
    this.preview();
  }

  ticketInstrument() {
    return this.instruments.get(this.selectedId);
  }

  syncTicket() {
    const type = $("#ticket-type").value;
    const priceInput = $("#ticket-price");
    const trigger = $("#ticket-trigger");
    const instrument = this.ticketInstrument();
    const ltp = this.quotes.get(this.selectedId)?.ltp;
    priceInput.disabled = !(type === "LIMIT" || type === "SL");
    trigger.disabled = !(type === "SL" || type === "SL-M");
    if (!priceInput.disabled && !priceInput.value && ltp && instrument) {
      priceInput.value = roundToTick(ltp, instrument.tickSize).toFixed(2);
    }
    if (!trigger.disabled && !trigger.value && ltp && instrument) {
      trigger.value = roundToTick(ltp, instrument.tickSize).toFixed(2);
    }
    const side = new FormData($("#ticket-form")).get("orderSide");
    const submit = $("#ticket-submit");
    submit.className = side === "SELL" ? "btn-sell" : "btn-buy";
    const qty = $("#ticket-quantity").value || "?";
    const legs = $("#ticket-iceberg-legs").value;
    submit.textContent = `${side === "SELL" ? "Sell" : "Buy"} ${qty} ${instrument?.symbol || ""}`.trim()
      + (legs ? ` in ${legs} legs` : "");
  }

  /** The order body from the ticket, or null after marking the fields that are wrong. */
  ticketBody({ mark }) {
    const form = $("#ticket-form");
    const instrument = this.ticketInstrument();
    if (!instrument || !this.accountId) return null;
    const values = new FormData(form);
    const type = values.get("orderType");
    const body = {
      tradingAccountId: this.accountId,
      instrumentId: instrument.instrumentId,
      orderSide: values.get("orderSide"),
      orderType: type,
      productType: values.get("productType"),
      quantity: Number(values.get("quantity")),
    };
    const problems = [];
    const lot = instrument.lotSize || 1;
    if (!Number.isInteger(body.quantity) || body.quantity <= 0) {
      problems.push(["quantity", "Enter a whole number of units."]);
    } else if (body.quantity % lot !== 0) {
      problems.push(["quantity", `Quantity must be a multiple of the lot size ${lot}.`]);
    }
    const legs = values.get("iceberg.legs");
    if (legs && !problems.length) {
      const split = icebergSplit(body.quantity, Number(legs), lot);
      if (typeof split === "string") problems.push(["iceberg.legs", split]);
      else body.iceberg = split;
    }
    if (type === "LIMIT" || type === "SL") {
      body.price = Number(values.get("price"));
      if (!body.price || body.price <= 0) problems.push(["price", "Enter a price."]);
      else if (!onTick(body.price, instrument.tickSize)) {
        problems.push(["price", `Price must be a multiple of the tick ${instrument.tickSize}.`]);
      }
    }
    if (type === "SL" || type === "SL-M") {
      body.triggerPrice = Number(values.get("triggerPrice"));
      if (!body.triggerPrice || body.triggerPrice <= 0) problems.push(["triggerPrice", "Enter a trigger price."]);
      else if (!onTick(body.triggerPrice, instrument.tickSize)) {
        problems.push(["triggerPrice", `Trigger must be a multiple of the tick ${instrument.tickSize}.`]);
      }
    }
    if (problems.length) {
      if (mark) {
        clearFormErrors(form);
        for (const [field, message] of problems) placeFieldError(form, field, message);
        form.querySelector(`[name="${problems[0][0]}"]`)?.focus();
      }
      return null;
    }
    return body;
  }

  async preview() {
    const body = this.ticketBody({ mark: false });
    const out = (key) => $(`[data-preview="${key}"]`);
    if (!body) {
      $("#ticket-preview").classList.remove("stale");
      for (const key of ["required", "charges", "availableMargin", "leverage"]) out(key).textContent = "—";
      out("note").textContent = "";
      out("hedge").textContent = "";
      return;
    }
    const instrument = this.ticketInstrument();
    const derivative = !EQUITY_SEGMENTS.has(instrument.segment);
    const ltp = this.quotes.get(this.selectedId)?.ltp;
    const legPrice = body.price || body.triggerPrice || ltp;
    // An iceberg is priced as its first leg, the order placing it blocks and pays for now.
    const { tradingAccountId, iceberg, ...order } = body;
    if (iceberg) order.quantity = iceberg.legQuantity;
    const chargesBody = {
      segment: instrument.segment,
      exchange: instrument.exchange,
      productType: body.productType,
      quantity: order.quantity,
      instrumentId: instrument.instrumentId,
    };
    chargesBody[body.orderSide === "BUY" ? "buyPrice" : "sellPrice"] = roundToTick(legPrice || 0, instrument.tickSize);
    const [margin, charges, basket] = await Promise.allSettled([
      api("POST", "/api/trading/margins", body),
      legPrice ? api("POST", "/api/trading/charges", chargesBody) : Promise.reject(new Error("no price yet")),
      // A future or option is margined with the positions on its underlying: the basket route
      // also says what it would need on an account holding nothing (its "standalone").
      derivative
        ? api("POST", "/api/trading/margins/basket", { tradingAccountId, orders: [order] })
        : Promise.reject(new Error("margined alone")),
    ]);
    if (JSON.stringify(body) !== JSON.stringify(this.ticketBody({ mark: false }))) return; // stale
    $("#ticket-preview").classList.remove("stale");
    if (margin.status === "fulfilled") {
      const m = margin.value;
      out("required").textContent = rupees(m.required);
      out("charges").textContent = rupees(m.charges);
      out("availableMargin").textContent = rupees(m.availableMargin);
      out("leverage").textContent = m.leverage ? `${Number(m.leverage).toFixed(2)}×` : "—";
      const sufficient = m.sufficient !== false && m.required + m.charges <= m.availableMargin + 1e-9;
      out("note").textContent = sufficient
        ? ""
        : `Not enough funds: needs ${rupees(m.required + m.charges)}, available ${rupees(m.availableMargin)}. ${MORE_FUNDS}`;
      out("note").className = sufficient ? "preview-note" : "preview-note warn";
      out("hedge").textContent = hedgeText(basket);
    } else {
      out("hedge").textContent = "";
      for (const key of ["required", "charges", "availableMargin", "leverage"]) out(key).textContent = "—";
      out("note").textContent = describeError(margin.reason);
      out("note").className = "preview-note warn";
    }
    const breakdown = $("#charges-breakdown");
    if (charges.status === "fulfilled") {
      const c = charges.value;
      const rows = [
        ["Brokerage", c.brokerage], ["STT / CTT", c.stt], ["Exchange txn", c.exchangeTxn],
        ["SEBI fee", c.sebi], ["GST", c.gst], ["Stamp duty", c.stampDuty],
        ["DP charges", c.dpCharges], ["Total (this leg)", c.total],
      ];
      breakdown.replaceChildren(
        ...rows.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, rupees(value)))),
      );
    } else {
      breakdown.replaceChildren(h("div", {}, h("dd", {}, "Charges appear once a price is known.")));
    }
  }

  async placeOrder() {
    const form = $("#ticket-form");
    clearFormErrors(form);
    const body = this.ticketBody({ mark: true });
    if (!body) return;
    body.clientOrderId = newId();
    const submit = $("#ticket-submit");
    submit.disabled = true;
    this.placedAtMs = Date.now();
    try {
      const { order } = await api("POST", "/api/trading/orders", body);
      this.placed.set(order.id, order);
      this.paintWelcome(false);
      const symbol = order.symbol || this.ticketInstrument()?.symbol;
      const legs = order.iceberg ? `, leg 1 of ${order.iceberg.legs}` : "";
      this.toast(`Order placed: ${order.orderSide} ${order.quantity} ${symbol} (${order.orderType}${legs}).`, "ok");
    } catch (error) {
      showFormError(form, error); // an alert next to the button: no toast on top of it
    } finally {
      submit.disabled = false;
      this.refreshOrdersSoon();
      this.previewSoon();
    }
  }

  // -- orders ------------------------------------------------------------------------------

  async loadOrders() {
    const accountId = this.accountId;
    if (!accountId) return;
    const params = new URLSearchParams({ tradingAccountId: accountId, limit: "50" });
    const chosen = $('input[name="ordersFilter"]:checked')?.value || "";
    if (chosen) params.set("status", chosen);
    let orders;
    try {
      orders = (await api("GET", `/api/trading/orders?${params}`)).items || [];
    } catch (error) {
      if (accountId === this.accountId) this.toast(`Orders could not be loaded. ${describeError(error)}`, "error");
      return;
    }
    if (accountId !== this.accountId) return; // another account was chosen meanwhile
    this.orders = orders;
    if (!chosen) this.paintWelcome(this.orders.length === 0);
    this.renderOrders();
  }

  /** The greeting of an account with no orders yet: its balance and the first steps. */
  paintWelcome(show) {
    $("#welcome").hidden = !show;
    if (show && this.funds) $("#welcome-balance").textContent = rupees(this.funds.balance);
  }

  onOrder(change) {
    if (change.status === "EXECUTED" && change.lastFillPrice) {
      const known = this.placed.get(change.id) || this.orders.find((o) => o.id === change.id);
      const label = known ? `${known.orderSide} ${known.quantity} ${known.symbol}` : "Order";
      this.toast(`${label} executed at ${price(change.lastFillPrice)}.`, "ok");
    } else if (change.status === "REJECTED" && Date.now() - this.placedAtMs > 3000) {
      this.toast(`Order rejected: ${reasonText(change.rejectionReason)}.`, "error");
    }
    this.refreshOrdersSoon();
  }

  renderOrders() {
    const rows = this.orders.map((order) => {
      const pending = order.status === "PENDING";
      const label = `${order.orderSide} ${order.symbol} order`;
      const actions = h(
        "div",
        { class: "row-actions" },
        order.filledQuantity > 0
          ? h("button", { type: "button", onclick: () => this.openTrades(order), "aria-label": `Trades of ${label}` }, "Trades")
          : "",
        pending ? h("button", { type: "button", onclick: () => this.openModify(order), "aria-label": `Modify ${label}` }, "Modify") : "",
        pending ? h("button", { type: "button", class: "danger", onclick: () => this.cancelOrder(order), "aria-label": `Cancel ${label}` }, "Cancel") : "",
      );
      // Filled of total, and what is still to fill (working) or was left unfilled (cancelled).
      const left = order.pendingQuantity
        ? h("span", { class: "muted qty-left" }, ` ${order.pendingQuantity} pending`)
        : order.cancelledQuantity && order.filledQuantity
          ? h("span", { class: "muted qty-left" }, ` ${order.cancelledQuantity} cancelled`)
          : "";
      const status = h("span", { class: `status status-${order.status.toLowerCase()}` }, order.status);
      const reason = order.rejectionReason ? h("span", { class: "reason" }, reasonText(order.rejectionReason)) : "";
      return h(
        "tr",
        { dataset: { orderId: order.id, status: order.status } },
        h("td", {}, clock(order.createdAt)),
        h(
          "td",
          {},
          h("strong", {}, order.symbol),
          h("span", { class: "muted" }, ` ${order.productType}`),
          // A leg of an iceberg order: which one, of how many.
          order.iceberg ? h("span", { class: "muted iceberg-leg" }, ` · leg ${order.iceberg.leg}/${order.iceberg.legs}`) : "",
        ),
        h("td", { class: order.orderSide === "BUY" ? "buy-text" : "sell-text" }, order.orderSide),
        h("td", { class: "hide-sm" }, order.orderType),
        h("td", { class: "num" }, `${order.filledQuantity}/${order.quantity}`, left),
        h("td", { class: "num hide-sm" }, order.orderType === "MARKET" ? "MKT" : price(order.price || order.triggerPrice)),
        h("td", { class: "num" }, price(order.averagePrice)),
        h("td", {}, status, reason),
        h("td", {}, actions),
      );
    });
    fillRows($("#orders-table tbody"), rows, "No orders yet.");
  }

  /** The order's fills, first first, from its detail (GET /api/trading/orders/{id}). */
  async openTrades(order) {
    let detail;
    try {
      detail = await api("GET", `/api/trading/orders/${encodeURIComponent(order.id)}`);
    } catch (error) {
      this.toast(`Trades could not be loaded. ${describeError(error)}`, "error");
      return;
    }
    const { order: current, trades } = detail;
    $("#trades-summary").textContent =
      `${current.orderSide} ${current.symbol} · ${current.filledQuantity}/${current.quantity} filled` +
      ` · avg ${price(current.averagePrice)}`;
    const rows = trades.map((trade) =>
      h(
        "tr",
        { dataset: { tradeId: trade.id } },
        h("td", {}, clock(trade.executedAt)),
        h("td", { class: "num" }, String(trade.quantity)),
        h("td", { class: "num" }, price(trade.price)),
        h("td", { class: "num" }, rupees(trade.charges)),
      ),
    );
    fillRows($("#trades-table tbody"), rows, "No trades yet.");
    $("#trades-dialog").showModal();
  }

  openModify(order) {
    const dialog = $("#modify-dialog");
    const form = $("#modify-form");
    clearFormErrors(form);
    this.modifying = order;
    $("#modify-summary").textContent = `${order.orderSide} ${order.symbol} · ${order.orderType} · ${order.productType}`;
    form.elements.quantity.value = order.quantity;
    form.elements.quantity.disabled = Boolean(order.iceberg); // a leg's quantity is its iceberg's
    form.elements.price.value = order.price ?? "";
    form.elements.triggerPrice.value = order.triggerPrice ?? "";
    form.elements.price.disabled = !(order.orderType === "LIMIT" || order.orderType === "SL");
    form.elements.triggerPrice.disabled = !(order.orderType === "SL" || order.orderType === "SL-M");
    dialog.showModal();
    form.elements.quantity.focus();
  }

  async submitModify() {
    const form = $("#modify-form");
    const order = this.modifying;
    if (!order) return;
    const body = { orderId: order.id, quantity: Number(form.elements.quantity.value) };
    if (!form.elements.price.disabled) body.price = Number(form.elements.price.value);
    if (!form.elements.triggerPrice.disabled) body.triggerPrice = Number(form.elements.triggerPrice.value);
    try {
      await api("PATCH", "/api/trading/orders", body);
      $("#modify-dialog").close();
      this.toast(`Order modified: ${order.symbol}.`, "ok");
      this.loadOrders();
    } catch (error) {
      showFormError(form, error);
    }
  }

  async cancelOrder(order) {
    try {
      await api("DELETE", "/api/trading/orders", { orderId: order.id });
      this.toast(`Order cancelled: ${order.orderSide} ${order.symbol}.`, "ok");
    } catch (error) {
      this.toast(`Could not cancel: ${describeError(error)}`, "error");
    }
    this.loadOrders();
  }

  // -- GTT triggers ------------------------------------------------------------------------

  async loadGtts() {
    const accountId = this.accountId;
    if (!accountId) return;
    const params = new URLSearchParams({ tradingAccountId: accountId, limit: "50" });
    let gtts;
    try {
      gtts = (await api("GET", `/api/trading/gtt?${params}`)).items || [];
    } catch (error) {
      if (accountId === this.accountId) this.toast(`GTTs could not be loaded. ${describeError(error)}`, "error");
      return;
    }
    if (accountId !== this.accountId) return; // another account was chosen meanwhile
    this.gtts = gtts;
    this.renderGtts();
  }

  renderGtts() {
    const rows = this.gtts.map((gtt) => {
      const label = `GTT ${gtt.symbol || gtt.instrumentId} ${gtt.triggerValues.map(price).join(" / ")}`;
      const actions = gtt.status === "ACTIVE"
        ? h("button", { type: "button", class: "danger", onclick: () => this.deleteGtt(gtt), "aria-label": `Delete ${label}` }, "Delete")
        : "";
      const legs = gtt.orders.map((order) =>
        `${order.orderSide} ${order.quantity} ${order.orderType === "MARKET" ? "MKT" : `@ ${price(order.price)}`}`,
      );
      const status = h("span", { class: `status status-${gtt.status.toLowerCase()}` }, gtt.status);
      const reason = gtt.rejectionReason ? h("span", { class: "reason" }, reasonText(gtt.rejectionReason)) : "";
      return h(
        "tr",
        { dataset: { gttId: gtt.id, status: gtt.status } },
        h("td", {}, clock(gtt.createdAt)),
        h("td", {}, h("strong", {}, gtt.symbol || gtt.instrumentId), h("span", { class: "muted" }, ` ${gtt.orders[0]?.productType || ""}`)),
        h("td", {}, gtt.type === "TWO_LEG" ? "OCO" : "Single"),
        h("td", { class: "num" }, gtt.triggerValues.map(price).join(" / ")),
        h("td", {}, legs.join(" · ")),
        h("td", {}, status, reason),
        h("td", {}, h("div", { class: "row-actions" }, actions)),
      );
    });
    fillRows($("#gtts-table tbody"), rows, "No GTTs yet.");
  }

  async deleteGtt(gtt) {
    try {
      await api("DELETE", `/api/trading/gtt/${encodeURIComponent(gtt.id)}`);
      this.toast(`GTT deleted: ${gtt.symbol || gtt.instrumentId}.`, "ok");
    } catch (error) {
      this.toast(`Could not delete the GTT: ${describeError(error)}`, "error");
    }
    this.loadGtts();
  }

  // -- positions ---------------------------------------------------------------------------

  async loadPositions() {
    const accountId = this.accountId;
    if (!accountId) return;
    const account = this.accountQuery();
    let open = [];
    let closed = [];
    try {
      [open, closed] = await Promise.all([
        api("GET", `/api/trading/positions?status=OPEN&${account}`).then((r) => r.items || []),
        api("GET", `/api/trading/positions?status=CLOSED&${account}`).then((r) => r.items || []),
      ]);
    } catch (error) {
      if (accountId === this.accountId) this.toast(`Positions could not be loaded. ${describeError(error)}`, "error");
      return;
    }
    if (accountId !== this.accountId) return; // another account was chosen meanwhile
    this.positions = new Map(open.map((p) => [p.id, p]));
    this.feed.watch(open.map((p) => p.instrumentId));
    this.renderPositions();
    this.renderClosed(closed.slice(0, 20));
  }

  onPosition(data) {
    if (data.status === "CLOSED") {
      const known = this.positions.get(data.id);
      if (known) this.toast(`Position closed: ${known.symbol}.`, "ok");
      this.positions.delete(data.id);
      this.renderPositions();
      this.refreshPositionsSoon();
      return;
    }
    const known = this.positions.has(data.id);
    this.positions.set(data.id, { ...this.positions.get(data.id), ...data });
    this.feed.watch([data.instrumentId]);
    if (known && this.positionRows.has(data.id)) this.paintPositionLevels(data.id);
    else this.renderPositions();
  }

  renderPositions() {
    this.positionRows.clear();
    const rows = [...this.positions.values()].map((position) => {
      const label = position.symbol || position.instrumentId;
      const ltp = h("td", { class: "num" }, "—");
      const pnlCell = h("td", { class: "num pnl" }, "—");
      const stopLoss = h("input", {
        type: "number", name: "stopLoss", inputmode: "decimal", min: "0", step: "any",
        "aria-label": `Stop-loss for ${label}`, placeholder: "SL",
      });
      const target = h("input", {
        type: "number", name: "target", inputmode: "decimal", min: "0", step: "any",
        "aria-label": `Target for ${label}`, placeholder: "Target",
      });
      const levelsForm = h(
        "form",
        { class: "levels", novalidate: true, onsubmit: (e) => { e.preventDefault(); this.saveLevels(position.id, levelsForm); } },
        stopLoss,
        target,
        h("button", { type: "submit", "aria-label": `Save stop-loss and target for ${label}` }, "Set"),
        h("p", { class: "field-error", "data-error-for": "stopLoss", hidden: true }),
        h("p", { class: "field-error", "data-error-for": "target", hidden: true }),
        h("p", { class: "form-error", role: "alert", hidden: true }),
      );
      const row = h(
        "tr",
        { dataset: { positionId: position.id, instrumentId: position.instrumentId } },
        h("td", {}, h("strong", {}, label), h("span", { class: "muted" }, ` ${position.exchange || ""}`)),
        h("td", { class: "hide-sm" }, position.productType),
        h("td", { class: `num ${position.quantity >= 0 ? "buy-text" : "sell-text"}` }, String(position.quantity)),
        h("td", { class: "num hide-sm" }, price(position.averagePrice)),
        ltp,
        pnlCell,
        h("td", {}, levelsForm),
        h("td", {}, h("button", { type: "button", class: "danger", onclick: () => this.closePosition(position), "aria-label": `Close ${label} position` }, "Close")),
      );
      this.positionRows.set(position.id, { row, ltp, pnl: pnlCell, stopLoss, target });
      return row;
    });
    fillRows($("#positions-table tbody"), rows, "No open positions.");
    for (const [id, position] of this.positions) {
      this.paintPositionLive(id, position);
      this.paintPositionLevels(id);
    }
    this.paintUnrealized();
  }

  livePnl(position) {
    const ltp = this.quotes.get(position.instrumentId)?.ltp ?? position.ltp;
    if (!ltp) return { ltp: null, pnl: Number(position.unrealizedPnl) || 0 };
    return { ltp, pnl: (ltp - Number(position.averagePrice)) * Number(position.quantity) };
  }

  paintPositionLive(id, position) {
    const parts = this.positionRows.get(id);
    if (!parts) return;
    const live = this.livePnl(position);
    parts.ltp.textContent = price(live.ltp);
    parts.pnl.textContent = pnl(live.pnl);
    parts.pnl.className = `num pnl ${pnlClass(live.pnl)}`;
  }

  paintPositionLevels(id) {
    const parts = this.positionRows.get(id);
    const position = this.positions.get(id);
    if (!parts || !position) return;
    for (const key of ["stopLoss", "target"]) {
      const input = parts[key];
      if (document.activeElement !== input) input.value = position[key] ?? "";
    }
  }

  paintUnrealized() {
    if (!this.funds) return;
    let total = 0;
    for (const position of this.positions.values()) total += this.livePnl(position).pnl;
    const el = $('[data-fund="unrealizedPnl"]');
    el.textContent = pnl(total);
    el.className = pnlClass(total);
  }

  async saveLevels(positionId, form) {
    clearFormErrors(form);
    const position = this.positions.get(positionId);
    const values = {};
    for (const key of ["stopLoss", "target"]) {
      const raw = form.elements[key].value.trim();
      values[key] = raw === "" ? null : Number(raw);
    }
    try {
      const { position: updated } = await api("PATCH", "/api/trading/positions", { positionId, ...values });
      if (updated) this.positions.set(positionId, { ...position, ...updated });
      this.paintPositionLevels(positionId);
      const parts = [];
      if (values.stopLoss !== null) parts.push(`stop-loss ${price(values.stopLoss)}`);
      if (values.target !== null) parts.push(`target ${price(values.target)}`);
      this.toast(`${position?.symbol || "Position"}: ${parts.join(", ") || "levels cleared"}.`, "ok");
    } catch (error) {
      const sentence = showFormError(form, error);
      this.toast(sentence, "error");
    }
  }

  async closePosition(position) {
    try {
      const reply = await api("POST", "/api/trading/positions", {
        positionId: position.id,
        tradingAccountId: this.accountId,
      });
      this.toast(`Closed ${position.symbol}: realized ${pnl(reply.realizedPnl)}.`, "ok");
    } catch (error) {
      this.toast(`Could not close ${position.symbol}: ${describeError(error)}`, "error");
    }
    this.loadPositions();
    this.loadOrders();
  }

  renderClosed(items) {
    const rows = items.map((p) =>
      h(
        "tr",
        { dataset: { positionId: p.id } },
        h("td", {}, h("strong", {}, p.symbol || p.instrumentId)),
        h("td", {}, p.productType),
        h("td", { class: "num" }, price(p.averagePrice)),
        h("td", { class: `num ${pnlClass(p.realizedPnl)}` }, pnl(p.realizedPnl)),
        h("td", {}, when(p.closedAt)),
      ),
    );
    fillRows($("#closed-table tbody"), rows, "No closed positions yet.");
  }

  // -- funds -------------------------------------------------------------------------------

  async loadFunds() {
    const accountId = this.accountId;
    if (!accountId) return;
    try {
      const funds = await api("GET", `/api/trading/funds?${this.accountQuery()}`);
      if (accountId === this.accountId) this.renderFunds(funds);
    } catch (error) {
      if (accountId === this.accountId) this.toast(`Funds could not be loaded. ${describeError(error)}`, "error");
    }
  }

  renderFunds(funds) {
    this.funds = funds;
    $("#welcome-balance").textContent = rupees(funds.balance);
    for (const el of $$("[data-fund]")) {
      const key = el.dataset.fund;
      if (key === "realizedPnl" || key === "unrealizedPnl") {
        el.textContent = pnl(funds[key]);
        el.className = pnlClass(funds[key]);
      } else {
        el.textContent = rupees(funds[key]);
      }
    }
    this.paintUnrealized();
    this.paintMargin(funds);
    this.previewSoon();
  }

  /** The margin bar (what positions block against that plus what is still available) and the
   * margin-call banner. */
  paintMargin(funds) {
    const used = Math.max(0, Number(funds.requiredMargin || 0));
    const available = Number(funds.availableMargin || 0);
    const whole = used + Math.max(0, available);
    const percent = whole > 0 ? Math.min(100, (used * 100) / whole) : 0;
    const bar = $("#margin-bar");
    bar.setAttribute("aria-valuenow", percent.toFixed(0));
    bar.classList.toggle("warn", percent >= 80 && !funds.marginCall);
    bar.classList.toggle("called", Boolean(funds.marginCall) || available < 0);
    bar.querySelector(".margin-bar-fill").style.width = `${available < 0 ? 100 : percent}%`;
    $("#margin-bar-text").textContent =
      `Margin used ${rupees(used)} of ${rupees(whole)} (${percent.toFixed(0)}%)`;
    const banner = $("#margin-call");
    banner.hidden = !funds.marginCall;
    if (funds.marginCall) {
      banner.textContent =
        `Margin call: your equity no longer covers the ${rupees(used)} your positions need ` +
        `(short by ${rupees(Math.max(0, -available))}). Orders that add margin are refused; ` +
        "reduce positions or add funds, or they will be squared off.";
    }
  }

  onMarginCall(call) {
    if (call.status === "CALLED") {
      this.toast(`Margin call: equity ${rupees(call.equity)} is below the required ${rupees(call.requiredMargin)}.`, "error");
    } else {
      this.toast("Margin call met.", "ok");
    }
    this.loadFunds();
  }
}

/** One side of one depth level: its figures, and its price as the button that trades at it. */
function paintLevel(cells, level, action) {
  const known = level && Number(level.price) > 0;
  cells.orders.textContent = known ? quantity(level.orders) : "—";
  cells.quantity.textContent = known ? quantity(level.quantity) : "—";
  cells.button.textContent = known ? price(level.price) : "—";
  cells.button.disabled = !known;
  if (known) {
    cells.button.dataset.price = String(level.price);
    cells.button.setAttribute("aria-label", `${action} ${price(level.price)}`);
  } else {
    delete cells.button.dataset.price;
    cells.button.removeAttribute("aria-label");
  }
}

function changePercent(quote) {
  if (quote.changePercent !== undefined && quote.change === undefined) return Number(quote.changePercent);
  if (quote.change === undefined || quote.change === null) return null;
  const close = Number(quote.ltp) - Number(quote.change);
  return close ? (Number(quote.change) * 100) / close : null;
}

function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
