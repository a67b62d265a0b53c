// A live price chart on <canvas>: a line of every tick, or candles built from ticks in
// fixed time buckets, after the instrument's stored minute candles (GET /api/market/candles);
// and the payoff chart of positions across the underlying's price. Both redraw at most once
// per animation frame and follow their box's size.

const UP = "#0f8a4b";
const DOWN = "#c62f3b";
const GRID = "#e3e7ee";
const TEXT = "#5b6473";
const LINE = "#2356c7";
const AXIS_WIDTH = 64;
const TIME_HEIGHT = 20;
const POINTS_MAX = 3000;

const MINUTE_MS = 60000;

/**
 * Keeps the recent ticks of each instrument: [{t: epoch ms, p: price}], and the minute
 * candles stored before them: [{t, o, h, l, c}].
 */
export class TickStore {
  constructor() {
    this.series = new Map();
    this.minutes = new Map();
  }

  setHistory(instrumentId, candles) {
    this.minutes.set(
      instrumentId,
      candles.map((c) => ({ t: Date.parse(c.time), o: c.open, h: c.high, l: c.low, c: c.close })),
    );
  }

  history(instrumentId) {
    return this.minutes.get(instrumentId) || [];
  }

  add(instrumentId, t, p) {
    let points = this.series.get(instrumentId);
    if (!points) this.series.set(instrumentId, (points = []));
    const last = points[points.length - 1];
    if (last && t < last.t) return; // stale frame after a reconnect
    points.push({ t, p });
    if (points.length > POINTS_MAX) points.splice(0, points.length - POINTS_MAX);
  }

  get(instrumentId) {
    return this.series.get(instrumentId) || [];
  }
}

/**
 * Candles of ``bucketMs`` from stored minute candles then ticks: minutes merge into buckets of
 * a minute or more (shorter buckets show them as minutes), and ticks fold in after the last
 * stored minute.
 */
export function candlesFrom(points, bucketMs, minutes = []) {
  const candles = [];
  let current = null;
  const size = Math.max(bucketMs, MINUTE_MS);
  for (const m of minutes) {
    const start = Math.floor(m.t / size) * size;
    if (!current || current.t !== start) {
      current = { ...m, t: start };
      candles.push(current);
    } else {
      current.h = Math.max(current.h, m.h);
      current.l = Math.min(current.l, m.l);
      current.c = m.c;
    }
  }
  const after = minutes.length ? minutes[minutes.length - 1].t + MINUTE_MS : -Infinity;
  current = null;
  for (const { t, p } of points) {
    if (t < after) continue;
    const start = Math.floor(t / bucketMs) * bucketMs;
    if (!current || current.t !== start) {
      current = { t: start, o: p, h: p, l: p, c: p };
      candles.push(current);
    } else {
      current.h = Math.max(current.h, p);
      current.l = Math.min(current.l, p);
      current.c = p;
    }
  }
  return candles;
}

/**
 * A chart on a canvas: redrawn once per animation frame when asked, and on resize, at the
 * device's pixel ratio; subclasses paint on a cleared context in CSS pixels.
 */
class CanvasChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.pending = false;
    new ResizeObserver(() => this.redraw()).observe(canvas);
  }

  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    this.paint(ctx, width, height);
  }

  /** Five horizontal grid lines across the plot, each labelled on the right by ``label``. */
  valueGrid(ctx, low, high, y, plotW, plotH, label) {
    ctx.strokeStyle = GRID;
    ctx.fillStyle = TEXT;
    ctx.lineWidth = 1;
    const steps = 5;
    for (let i = 0; i <= steps; i += 1) {
      const value = low + ((high - low) * i) / steps;
      const py = Math.round(y(value)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(0, py);
      ctx.lineTo(plotW, py);
      ctx.stroke();
      ctx.fillText(label(value), plotW + 6, Math.min(plotH - 2, Math.max(10, py + 4)));
    }
  }
}

export class PriceChart extends CanvasChart {
  constructor(canvas) {
    super(canvas);
    this.points = [];
    this.mode = "line";
    this.bucketMs = 5000;
    this.label = "";
  }

  show(points, label, minutes = []) {
    this.ticks = points;
    this.minutes = minutes;
    this.label = label;
    this.canvas.dataset.history = String(minutes.length);
    this.redraw();
  }

  /** The line's points: each stored minute's close, then the ticks after the last one. */
  linePoints() {
    const minutes = this.minutes || [];
    const ticks = this.ticks || [];
    if (!minutes.length) return ticks;
    const after = minutes[minutes.length - 1].t + MINUTE_MS;
    return [...minutes.map((m) => ({ t: m.t, p: m.c })), ...ticks.filter((q) => q.t >= after)];
  }

  setMode(mode, bucketMs) {
    this.mode = mode;
    if (bucketMs) this.bucketMs = bucketMs;
    this.redraw();
  }

  paint(ctx, width, height) {
    const plotW = width - AXIS_WIDTH;
    const plotH = height - TIME_HEIGHT;
    this.points = this.linePoints();
    if (this.points.length < 2) {
      ctx.fillStyle = TEXT;
      ctx.fillText("Waiting for ticks…", 12, plotH / 2);
      return;
    }
    const candles =
      this.mode === "candles" ? candlesFrom(this.ticks || [], this.bucketMs, this.minutes) : null;
    const visible = candles
      ? candles.slice(-Math.max(10, Math.floor(plotW / 9)))
      : this.points.slice(-POINTS_MAX);
    const lows = candles ? visible.map((c) => c.l) : visible.map((q) => q.p);
    const highs = candles ? visible.map((c) => c.h) : lows;
    let low = Math.min(...lows);
    let high = Math.max(...highs);
    const pad = Math.max((high - low) * 0.08, high * 0.0002, 0.01);
    low -= pad;
    high += pad;
    const y = (p) => plotH - ((p - low) / (high - low)) * plotH;
    this.grid(ctx, low, high, y, plotW, plotH);
    if (candles) this.drawCandles(ctx, visible, y, plotW, plotH);
    else this.drawLine(ctx, visible, y, plotW, plotH);
    const last = this.points[this.points.length - 1].p;
    const first = this.points[0].p;
    ctx.strokeStyle = last >= first ? UP : DOWN;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(0, y(last));
    ctx.lineTo(plotW, y(last));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = last >= first ? UP : DOWN;
    ctx.fillRect(plotW + 2, y(last) - 8, AXIS_WIDTH - 4, 16);
    ctx.fillStyle = "#fff";
    ctx.fillText(last.toFixed(2), plotW + 6, y(last) + 4);
    this.canvas.setAttribute(
      "aria-label",
      `${this.label} price chart (${this.mode}), last ${last.toFixed(2)}, ` +
        `range ${Math.min(...lows).toFixed(2)} to ${Math.max(...highs).toFixed(2)}`,
    );
  }

  grid(ctx, low, high, y, plotW, plotH) {
    this.valueGrid(ctx, low, high, y, plotW, plotH, (p) => p.toFixed(2));
    const t0 = this.points[0].t;
    const t1 = this.points[this.points.length - 1].t;
    const fmt = (t) => new Date(t).toLocaleTimeString("en-IN", { hour12: false });
    ctx.fillText(fmt(t0), 4, plotH + 14);
    const end = fmt(t1);
    ctx.fillText(end, plotW - ctx.measureText(end).width - 4, plotH + 14);
  }

  drawLine(ctx, points, y, plotW) {
    const t0 = points[0].t;
    const span = Math.max(1, points[points.length - 1].t - t0);
    ctx.strokeStyle = LINE;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach((q, i) => {
      const px = ((q.t - t0) / span) * (plotW - 4);
      if (i === 0) ctx.moveTo(px, y(q.p));
      else ctx.lineTo(px, y(q.p));
    });
    ctx.stroke();
  }

  drawCandles(ctx, candles, y, plotW) {
    const slot = plotW / Math.max(candles.length, 10);
    const body = Math.max(1, slot * 0.6);
    candles.forEach((c, i) => {
      const cx = i * slot + slot / 2;
      const colour = c.c >= c.o ? UP : DOWN;
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.beginPath();
      ctx.moveTo(Math.round(cx) + 0.5, y(c.h));
      ctx.lineTo(Math.round(cx) + 0.5, y(c.l));
      ctx.stroke();
      const top = y(Math.max(c.o, c.c));
      const h = Math.max(1, Math.abs(y(c.o) - y(c.c)));
      ctx.fillRect(cx - body / 2, top, body, h);
    });
  }
}

const TODAY = "#d97706";
const ZERO = "#8a93a1";
const SPOT = "#5b6473";
const compact = new Intl.NumberFormat("en-IN", { notation: "compact", maximumFractionDigits: 1 });
const plainPrice = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * The payoff of positions across the underlying's price (GET /api/trading/payoff): P&L at
 * expiry (solid) and today (dashed), the zero line and the current spot marked.
 */
export class PayoffChart extends CanvasChart {
  constructor(canvas) {
    super(canvas);
    this.payoff = null;
  }

  show(payoff) {
    this.payoff = payoff;
    this.redraw();
  }

  paint(ctx, width, height) {
    const canvas = this.canvas;
    const payoff = this.payoff;
    const points = payoff?.points || [];
    const plotW = width - AXIS_WIDTH;
    const plotH = height - TIME_HEIGHT;
    if (!payoff || points.length < 2 || !payoff.positions.length) {
      const name = payoff?.underlying || "this underlying";
      const text = !payoff ? "Loading…" : `No open futures or options on ${name}.`;
      ctx.fillStyle = TEXT;
      ctx.fillText(text, 12, plotH / 2);
      canvas.setAttribute("aria-label", `Payoff chart: ${text}`);
      delete canvas.dataset.points;
      return;
    }
    const values = points.flatMap((q) => [q.expiry, q.today]);
    let low = Math.min(0, ...values);
    let high = Math.max(0, ...values);
    const pad = Math.max((high - low) * 0.08, 1);
    low -= pad;
    high += pad;
    const x0 = points[0].price;
    const x1 = points[points.length - 1].price;
    const x = (p) => ((p - x0) / (x1 - x0)) * (plotW - 4);
    const y = (v) => plotH - ((v - low) / (high - low)) * plotH;
    this.grid(ctx, low, high, y, plotW, plotH);
    ctx.strokeStyle = ZERO;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, Math.round(y(0)) + 0.5);
    ctx.lineTo(plotW, Math.round(y(0)) + 0.5);
    ctx.stroke();
    this.line(ctx, points, (q) => q.expiry, x, y, LINE, []);
    this.line(ctx, points, (q) => q.today, x, y, TODAY, [6, 4]);
    const spotX = Math.round(x(payoff.spot)) + 0.5;
    ctx.strokeStyle = SPOT;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(spotX, 0);
    ctx.lineTo(spotX, plotH);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = TEXT;
    const spotText = `spot ${plainPrice.format(payoff.spot)}`;
    const spotWidth = ctx.measureText(spotText).width;
    ctx.fillText(spotText, Math.min(plotW - spotWidth - 2, Math.max(2, spotX - spotWidth / 2)), plotH + 14);
    ctx.fillText(plainPrice.format(x0), 2, plotH + 14);
    const end = plainPrice.format(x1);
    if (plotW > 3 * spotWidth) ctx.fillText(end, plotW - ctx.measureText(end).width - 2, plotH + 14);
    const atSpot = points.reduce((best, q) => (Math.abs(q.price - payoff.spot) < Math.abs(best.price - payoff.spot) ? q : best));
    const expiries = points.map((q) => q.expiry);
    const count = payoff.positions.length;
    canvas.dataset.points = String(points.length);
    canvas.setAttribute(
      "aria-label",
      `Payoff of ${count} ${payoff.underlying} position${count === 1 ? "" : "s"}: ` +
        `at expiry from ${plainPrice.format(Math.min(...expiries))} to ${plainPrice.format(Math.max(...expiries))} rupees ` +
        `between ${plainPrice.format(x0)} and ${plainPrice.format(x1)}; ` +
        `today ${plainPrice.format(atSpot.today)} rupees at the spot ${plainPrice.format(payoff.spot)}`,
    );
  }

  grid(ctx, low, high, y, plotW, plotH) {
    const rupees = (v) => `${v < 0 ? "−" : ""}₹${compact.format(Math.abs(v))}`;
    this.valueGrid(ctx, low, high, y, plotW, plotH, rupees);
  }

  line(ctx, points, value, x, y, colour, dash) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.setLineDash(dash);
    ctx.beginPath();
    points.forEach((q, i) => {
      if (i === 0) ctx.moveTo(x(q.price), y(value(q)));
      else ctx.lineTo(x(q.price), y(value(q)));
    });
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
