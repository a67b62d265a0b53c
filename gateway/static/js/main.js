// The app shell: sign-in and registration, the session (cookie + CSRF token kept in
// sessionStorage), hash routing between Trade, Console and Admin, the trading account the
// trading views act on, toasts and the live feed.

import { AccountSwitcher } from "./accounts.js";
import { AdminScreen } from "./admin.js";
import {
  api, clearFormErrors, hasCsrf, onUnauthenticated, setCsrf, showFormError,
} from "./api.js";
import { ConsoleScreen } from "./console.js";
import { AppsPanel } from "./apps.js";
import { $, $$, formValues, h } from "./dom.js";
import { LiveFeed } from "./live.js";
import { OptionsScreen } from "./options.js";
import { TradingScreen } from "./trading.js";

const VIEWS = ["auth", "trade", "console", "admin"];
const TOAST_MS = 5000;
const TOASTS_MAX = 3;

const state = { user: null, accountId: null };

function toast(message, kind = "info") {
  const box = $("#toasts");
  const item = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : undefined },
    h("span", {}, message),
    h("button", { type: "button", class: "btn-quiet", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  box.append(item);
  while (box.children.length > TOASTS_MAX) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? TOAST_MS * 2 : TOAST_MS);
}

const feedStatus = $("#feed-status");
const feed = new LiveFeed({
  onMessage: (frame) => {
    trading.onFrame(frame);
    options.onFrame(frame);
  },
  onState: (status, detail, attempt) => {
    feedStatus.dataset.state = status;
    feedStatus.textContent = status === "live" ? "● live" : detail ? `○ ${detail}` : `○ ${status}`;
    if (status === "live" && wasDown) trading.resync();
    wasDown = status !== "live";
    // Several failures in a row may mean the session ended: ask the API, which says so.
    if (status === "reconnecting" && attempt >= 3) api("GET", "/api/auth/session").catch(() => {});
  },
});
let wasDown = false;

const trading = new TradingScreen({ feed, toast });
const options = new OptionsScreen({ feed, trading, toast });
const consoleScreen = new ConsoleScreen({
  toast,
  onProfile: (user) => {
    state.user = { ...state.user, ...user };
    showWho();
  },
  // Orders, positions and funds changed wholesale: the trading view reloads them.
  onReset: () => trading.start(state.accountId),
  accountId: () => state.accountId,
});
const admin = new AdminScreen({ toast });
const accounts = new AccountSwitcher({
  toast,
  onChange: async (accountId) => {
    state.accountId = accountId;
    await trading.switchAccount(accountId);
    options.refreshPayoffSoon();
    if (location.hash === "#/console") await consoleScreen.load(); // its funds are the account's
  },
  // The server reads which accounts a websocket follows when it opens: renew it.
  onOpened: () => feed.renew(),
});
const apps = new AppsPanel({ toast, accounts });

function show(view) {
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  for (const link of $$("#nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.view = view;
}

async function route() {
  if (!state.user) {
    show("auth");
    return;
  }
  let view = location.hash.replace(/^#\//, "") || "trade";
  if (!VIEWS.includes(view) || view === "auth") view = "trade";
  if (view === "admin" && state.user.role !== "ADMIN") view = "trade";
  show(view);
  try {
    if (view === "console") await Promise.all([consoleScreen.load(), apps.load()]);
    if (view === "admin") await admin.load();
  } catch (error) {
    toast(String(error.message), "error");
  }
}

function showWho() {
  $("#who").textContent = state.user ? `${state.user.name} · ${state.user.role}` : "";
}

async function enter(user) {
  state.user = user;
  state.accountId = await accounts.start(user.id);
  $("#nav").hidden = false;
  $("#logout").hidden = false;
  $("#nav-admin").hidden = user.role !== "ADMIN";
  showWho();
  feed.start();
  await route();
  await trading.start(state.accountId);
  await options.start();
  $("#main").focus();
}

// A user with a generated password (the first admin) sees only the form that replaces it:
// the server refuses everything else (403 PASSWORD_CHANGE_REQUIRED) until then.
function askNewPassword(currentPassword) {
  show("auth");
  $("#login-form").hidden = true;
  $("#register-form").hidden = true;
  $("#new-password-form").hidden = false;
  $("#logout").hidden = false;
  $("#new-password-current").value = currentPassword || "";
  $(currentPassword ? "#new-password-new" : "#new-password-current").focus();
}

function closeNewPassword() {
  const form = $("#new-password-form");
  form.reset();
  clearFormErrors(form);
  form.hidden = true;
  $("#login-form").hidden = false;
  $("#register-form").hidden = false;
}

function leave(message) {
  closeNewPassword();
  state.user = null;
  state.accountId = null;
  accounts.stop();
  apps.clear();
  setCsrf(null);
  feed.stop();
  trading.stop();
  options.stop();
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  showWho();
  show("auth");
  if (message) toast(message, "info");
  $("#login-email").focus();
}

async function login(email, password) {
  const reply = await api("POST", "/api/auth/login", { email, password }, { quietAuth: true });
  setCsrf(reply.csrfToken);
  if (reply.passwordChangeRequired) askNewPassword(password);
  else await enter(reply.user);
}

$("#new-password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearFormErrors(form);
  try {
    const reply = await api("POST", "/api/console", {
      action: "CHANGE_PASSWORD",
      currentPassword: $("#new-password-current").value,
      newPassword: $("#new-password-new").value,
    });
    closeNewPassword();
    toast("Password changed.", "ok");
    await enter(reply.user);
  } catch (error) {
    showFormError(form, error);
  }
});

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearFormErrors(form);
  const v = formValues(form);
  try {
    await login(v.email, $("#login-password").value);
    form.reset();
  } catch (error) {
    showFormError(form, error);
  }
});

$("#register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearFormErrors(form);
  const v = formValues(form);
  const password = $("#register-password").value;
  try {
    await api("POST", "/api/auth/register", { name: v.name, email: v.email, password }, { quietAuth: true });
    await login(v.email, password);
    form.reset();
    toast("Welcome! Your trading account is open: the page shows what to do first.", "ok");
  } catch (error) {
    showFormError(form, error);
  }
});

$("#logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/auth/logout");
  } catch {
    // The session may already be gone; signing out locally is what matters.
  }
  leave("You are logged out.");
});

onUnauthenticated(() => {
  if (state.user) leave("Your session has ended. Please log in again.");
});

window.addEventListener("hashchange", () => route());

async function boot() {
  show("auth");
  if (!hasCsrf()) return; // a cookie alone cannot make changes: log in again for a token
  try {
    const session = await api("GET", "/api/auth/session", undefined, { quietAuth: true });
    if (session.passwordChangeRequired) askNewPassword(null);
    else await enter(session.user);
  } catch {
    setCsrf(null);
  }
}

// Tests and the curious can reach the live feed (e.g. to drop it and watch it heal).
window.paperdesk = { feed };
boot();
