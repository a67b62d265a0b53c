// The websocket side: one connection per signed-in page, authenticated by the session cookie.
// It resubscribes after every reconnect and reconnects by itself with exponential backoff
// (0.5 s doubling to 15 s, with jitter), so a server restart or a network blip heals alone.
// Several screens share its subscriptions: each watches under its own name, and an instrument
// is unsubscribed only when no screen watches it any more. A screen may watch in "full" mode
// (quotes carrying the book's depth): the instrument stays in full mode while any screen wants
// its depth, and drops back to "quote" mode when the last one lets it go.

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_INTERVAL_MS = 20000;

export class LiveFeed {
  constructor({ onMessage, onState }) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.instruments = new Set();
    this.holders = new Map(); // instrumentId -> Set of the screens watching it
    this.depthHolders = new Map(); // instrumentId -> Set of the screens wanting its depth
    this.socket = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = 0;
    this.pingTimer = 0;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
    this.onState("offline", "");
  }

  /** Connect afresh at once (the server reads which accounts a connection follows when it
   * opens: a trading account opened since then needs a new connection). */
  renew() {
    if (this.stopped) return;
    const old = this.socket;
    this.socket = null; // its close event must not schedule a reconnect of its own
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (old) old.close(1000, "renewed");
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/ws`);
    this.socket = socket;
    this.onState("connecting", this.attempt ? `reconnecting (attempt ${this.attempt + 1})` : "");
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("live", "");
      const quoted = [...this.instruments].filter((id) => !this.depthHolders.has(id));
      this.send({ op: "subscribe", instruments: quoted });
      if (this.depthHolders.size) {
        this.send({ op: "subscribe", instruments: [...this.depthHolders.keys()], mode: "full" });
      }
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ op: "ping" }), PING_INTERVAL_MS);
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(frame);
    });
    socket.addEventListener("close", () => {
      clearInterval(this.pingTimer);
      if (this.socket !== socket || this.stopped) return;
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.onState("reconnecting", `reconnecting in ${Math.ceil(delay / 1000)} s`, this.attempt);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Drop the connection as a network failure would (the feed then heals by itself). */
  drop() {
    if (this.socket) this.socket.close(4000, "dropped");
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  /** Watch instruments under a screen's name; mode "full" also asks for their depth. */
  watch(ids, holder = "trade", { mode = "quote" } = {}) {
    const fresh = [];
    const deep = [];
    for (const id of ids) {
      if (!id) continue;
      let holders = this.holders.get(id);
      if (!holders) {
        this.holders.set(id, (holders = new Set()));
        this.instruments.add(id);
        if (mode !== "full") fresh.push(id);
      }
      holders.add(holder);
      if (mode !== "full") continue;
      let wanting = this.depthHolders.get(id);
      if (!wanting) {
        this.depthHolders.set(id, (wanting = new Set()));
        deep.push(id); // new, or subscribed in quote mode until now: switch it to full
      }
      wanting.add(holder);
    }
    if (fresh.length) this.send({ op: "subscribe", instruments: fresh });
    if (deep.length) this.send({ op: "subscribe", instruments: deep, mode: "full" });
  }

  /** Stop watching under a screen's name (its depth too): an instrument nobody watches is
   * unsubscribed, one whose depth nobody wants any more drops back to quote mode. */
  unwatch(ids, holder = "trade") {
    const gone = [];
    const shallow = [];
    for (const id of ids) {
      const holders = this.holders.get(id);
      if (!holders) continue;
      holders.delete(holder);
      const wanting = this.depthHolders.get(id);
      wanting?.delete(holder);
      if (wanting && !wanting.size) this.depthHolders.delete(id);
      if (holders.size) {
        if (wanting && !wanting.size) shallow.push(id);
        continue;
      }
      this.holders.delete(id);
      this.instruments.delete(id);
      gone.push(id);
    }
    if (gone.length) this.send({ op: "unsubscribe", instruments: gone });
    if (shallow.length) this.send({ op: "subscribe", instruments: shallow, mode: "quote" });
  }
}
