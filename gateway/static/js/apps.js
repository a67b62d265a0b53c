// The console's API apps (GET/POST /api/console/apps): apps for the Kite Connect listener, each
// bound to one trading account. Creating one shows its api_secret this once (the server keeps
// no copy to show again); an app can hand a headless script an access token; deleting one asks
// first.

import { api, clearFormErrors, describeError, showFormError } from "./api.js";
import { $, fillRows, formValues, h } from "./dom.js";
import { when } from "./format.js";

const IST = new Intl.DateTimeFormat("en-IN", {
  timeZone: "Asia/Kolkata", day: "2-digit", month: "short", year: "numeric",
  hour: "2-digit", minute: "2-digit", hour12: false,
});

/** "06 Jan 2027, 06:00 IST": when an access token ends, in the exchange's time. */
export function istTime(iso) {
  return iso ? `${IST.format(new Date(iso))} IST` : "—";
}

export class AppsPanel {
  constructor({ toast, accounts }) {
    this.toast = toast;
    this.accounts = accounts; // the AccountSwitcher: the accounts an app may be bound to
    this.apps = [];
    this.deleting = null;
    this.bind();
  }

  bind() {
    const form = $("#app-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create(form);
    });
    $("#app-secret-done").addEventListener("click", () => this.hideSecret());
    $("#app-token-done").addEventListener("click", () => this.hideToken());
    for (const button of document.querySelectorAll("[data-copy]")) {
      button.addEventListener("click", () => this.copy(button));
    }
    $("#app-delete-cancel").addEventListener("click", () => $("#app-delete-dialog").close());
    $("#app-delete-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.remove();
    });
  }

  /** Forget everything shown (on signing out): no secret or token outlives the session. */
  clear() {
    this.hideSecret();
    this.hideToken();
    this.apps = [];
    $("#apps-table tbody").replaceChildren();
    $("#app-delete-dialog").close();
  }

  async load() {
    const [reply] = await Promise.all([api("GET", "/api/console/apps"), this.accounts.load()]);
    this.apps = reply.apps || [];
    this.render();
  }

  render() {
    const select = $("#app-account");
    const chosen = select.value || this.accounts.selectedId;
    select.replaceChildren(
      ...this.accounts.accounts.map((a) => h("option", { value: a.id }, a.name)),
    );
    if (chosen) select.value = chosen;

    fillRows(
      $("#apps-table tbody"),
      this.apps.map((app) =>
        h(
          "tr",
          { dataset: { appId: app.id } },
          h("td", {}, h("strong", {}, app.name)),
          h("td", {}, h("code", { class: "api-key" }, app.apiKey)),
          h("td", {}, this.accounts.nameOf(app.tradingAccountId)),
          h("td", { class: "url" }, app.redirectUrl),
          h("td", { class: "nowrap hide-sm" }, when(app.createdAt)),
          h(
            "td",
            {},
            h(
              "div",
              { class: "row-actions" },
              h("button", { type: "button", "aria-label": `Get an access token for ${app.name}`, onclick: () => this.token(app) }, "Get access token"),
              h("button", { type: "button", class: "danger", "aria-label": `Delete ${app.name}`, onclick: () => this.confirmDelete(app) }, "Delete"),
            ),
          ),
        ),
      ),
      "No apps yet.",
    );
  }

  async create(form) {
    clearFormErrors(form);
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const v = formValues(form);
      const reply = await api("POST", "/api/console/apps", {
        name: v.name, tradingAccountId: v.tradingAccountId, redirectUrl: v.redirectUrl,
      });
      form.reset();
      $("#app-account").value = this.accounts.selectedId || "";
      this.hideToken();
      this.showSecret(reply.app, reply.apiSecret);
      this.toast(`App “${reply.app.name}” created.`, "ok");
      this.apps = (await api("GET", "/api/console/apps")).apps || [];
      this.render();
    } catch (error) {
      showFormError(form, error);
    } finally {
      submit.disabled = false;
    }
  }

  /** The secret, once: kept only in this box's text until it is dismissed or the page left. */
  showSecret(app, secret) {
    $("#app-secret-name").textContent = app.name;
    $("#app-secret-key").textContent = app.apiKey;
    $("#app-secret").textContent = secret;
    $("#app-secret-box").hidden = false;
    $("#app-secret-copy").focus();
  }

  hideSecret() {
    $("#app-secret").textContent = "";
    $("#app-secret-box").hidden = true;
  }

  async token(app) {
    try {
      const reply = await api("POST", `/api/console/apps/${encodeURIComponent(app.id)}/token`);
      this.hideSecret();
      $("#app-token-name").textContent = app.name;
      $("#app-token-key").textContent = reply.apiKey;
      $("#app-token").textContent = reply.accessToken;
      $("#app-token-expiry").textContent = istTime(reply.expiresAt);
      $("#app-token-box").hidden = false;
      $("#app-token-copy").focus();
    } catch (error) {
      this.toast(`No access token for ${app.name}: ${describeError(error)}`, "error");
    }
  }

  hideToken() {
    $("#app-token").textContent = "";
    $("#app-token-box").hidden = true;
  }

  async copy(button) {
    const text = $(`#${button.dataset.copy}`).textContent;
    try {
      await navigator.clipboard.writeText(text);
      this.toast("Copied.", "ok");
    } catch {
      // No clipboard (an insecure origin, or permission refused): select it to copy by hand.
      const range = document.createRange();
      range.selectNodeContents($(`#${button.dataset.copy}`));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      this.toast("Selected: press Ctrl+C (⌘C) to copy.", "info");
    }
  }

  confirmDelete(app) {
    this.deleting = app;
    const form = $("#app-delete-form");
    clearFormErrors(form);
    $("#app-delete-name").textContent = app.name;
    $("#app-delete-dialog").showModal();
    $("#app-delete-cancel").focus(); // the safe choice first
  }

  async remove() {
    const app = this.deleting;
    const form = $("#app-delete-form");
    if (!app) return;
    try {
      await api("DELETE", `/api/console/apps/${encodeURIComponent(app.id)}`);
      $("#app-delete-dialog").close();
      this.deleting = null;
      if ($("#app-token-name").textContent === app.name) this.hideToken();
      this.toast(`App “${app.name}” deleted; its access tokens no longer work.`, "ok");
      await this.load();
    } catch (error) {
      showFormError(form, error);
    }
  }
}
