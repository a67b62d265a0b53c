// Number and time formatting in the Indian convention (lakh/crore grouping, ₹).

const money = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR" });
const plain = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const whole = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 0 });
const time = new Intl.DateTimeFormat("en-IN", {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const dateTime = new Intl.DateTimeFormat("en-IN", {
  day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", hour12: false,
});

export function rupees(value) {
  return value === null || value === undefined || Number.isNaN(Number(value))
    ? "—"
    : money.format(Number(value));
}

export function price(value) {
  return value === null || value === undefined || value === 0 ? "—" : plain.format(Number(value));
}

/** A count of units (a quantity, a number of orders) in lakh grouping: "12,34,567". */
export function quantity(value) {
  return value === null || value === undefined || Number.isNaN(Number(value))
    ? "—"
    : whole.format(Number(value));
}

/** "+₹1,234.50" / "−₹12.00": the sign in words for screen readers is the text itself. */
export function pnl(value) {
  const n = Number(value) || 0;
  const sign = n > 0 ? "+" : n < 0 ? "−" : "";
  return sign + money.format(Math.abs(n));
}

export function pnlClass(value) {
  const n = Number(value) || 0;
  return n > 0 ? "up" : n < 0 ? "down" : "flat";
}

export function clock(iso) {
  return iso ? time.format(new Date(iso)) : "—";
}

export function when(iso) {
  return iso ? dateTime.format(new Date(iso)) : "—";
}

/** Prices as integer paise so tick checks never suffer float error. */
export function toPaise(value) {
  return Math.round(Number(value) * 100);
}

export function onTick(value, tick) {
  const tickPaise = toPaise(tick);
  return tickPaise <= 0 || toPaise(value) % tickPaise === 0;
}

export function roundToTick(value, tick) {
  const tickPaise = toPaise(tick) || 1;
  return (Math.round(toPaise(value) / tickPaise) * tickPaise) / 100;
}

/**
 * An iceberg of `total` in `legs` legs as the API takes it ({legs, legQuantity}): each leg the
 * total's share rounded up to whole lots, the last what is left; a sentence when the total does
 * not split into that many legs.
 */
export function icebergSplit(total, legs, lot) {
  if (!Number.isInteger(legs) || legs < 2 || legs > 50) return "An iceberg has 2 to 50 legs.";
  const legQuantity = Math.ceil(Math.ceil(total / legs) / lot) * lot;
  const made = Math.ceil(total / legQuantity);
  if (made !== legs) return `${total} splits into ${made} legs of ${legQuantity}, not ${legs}.`;
  return { legs, legQuantity };
}

/** Human words for the server's rejection codes. */
const REASONS = {
  INSUFFICIENT_FUNDS: "insufficient funds",
  PRICE_UNAVAILABLE: "no price available",
  INVALID_PRICE: "price off the tick grid or outside the circuit band",
  INVALID_QUANTITY: "quantity is not a multiple of the lot size",
  MARKET_CLOSED: "market closed",
  PRODUCT_NOT_ALLOWED: "product not allowed for this instrument",
  NOT_TRADABLE: "an index is quoted, not traded",
  INSTRUMENT_EXPIRED: "the contract has expired",
  INSUFFICIENT_HOLDINGS: "not enough holdings to sell",
  OPEN_ORDERS_LIMIT: "too many open orders",
  ORDER_VALUE_LIMIT: "order value above the allowed maximum",
};

export function reasonText(code) {
  if (!code) return "";
  return REASONS[code] || String(code).toLowerCase().replaceAll("_", " ");
}
