// The header's account switcher: the user's trading accounts (one per strategy, each with its
// own funds, orders and positions) from GET /api/trading/accounts, the one the trading views act
// on (kept in localStorage, per user), and "New account" (POST /api/trading/accounts).

import { api, clearFormErrors, placeFieldError, showFormError } from "./api.js";
import { $, formValues, h } from "./dom.js";

const SELECTED_KEY = "paperdesk.account"; // + "." + the user's id: one choice per user

export class AccountSwitcher {
  constructor({ toast, onChange, onOpened }) {
    this.toast = toast;
    this.onChange = onChange; // (accountId) => the trading views move to it
    this.onOpened = onOpened; // (account) => a new account exists (the feed must follow it)
    this.userId = null;
    this.accounts = [];
    this.selectedId = null;
    this.bind();
  }

  bind() {
    $("#account-select").addEventListener("change", (event) => this.select(event.target.value));
    const dialog = $("#account-dialog");
    const form = $("#account-form");
    $("#account-new").addEventListener("click", () => {
      form.reset();
      clearFormErrors(form);
      dialog.showModal();
      $("#account-name").focus();
    });
    $("#account-cancel").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.open(form);
    });
  }

  /** Read the user's accounts and choose the remembered one (else the first): its id. */
  async start(userId) {
    this.userId = userId;
    await this.load();
    const remembered = localStorage.getItem(this.storageKey());
    const known = this.accounts.some((a) => a.id === remembered);
    this.selectedId = known ? remembered : this.accounts[0]?.id || null;
    this.render();
    $("#account-switch").hidden = false;
    return this.selectedId;
  }

  stop() {
    this.userId = null;
    this.accounts = [];
    this.selectedId = null;
    $("#account-switch").hidden = true;
    $("#account-select").replaceChildren();
  }

  async load() {
    this.accounts = (await api("GET", "/api/trading/accounts")).accounts || [];
    this.render();
    return this.accounts;
  }

  storageKey() {
    return `${SELECTED_KEY}.${this.userId}`;
  }

  /** The account's name, or its id when the account is not (or no longer) listed. */
  nameOf(accountId) {
    return this.accounts.find((a) => a.id === accountId)?.name || accountId;
  }

  render() {
    const select = $("#account-select");
    select.replaceChildren(
      ...this.accounts.map((a) => h("option", { value: a.id, selected: a.id === this.selectedId }, a.name)),
    );
    if (this.selectedId) select.value = this.selectedId;
  }

  async select(accountId) {
    if (!this.accounts.some((a) => a.id === accountId)) return;
    this.selectedId = accountId;
    localStorage.setItem(this.storageKey(), accountId);
    this.render();
    await this.onChange(accountId);
  }

  /** Open an account by the dialog's name; a taken name (409) or the limit (422) is said
   * inline, next to the name or in the dialog's alert line. */
  async open(form) {
    clearFormErrors(form);
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const { name } = formValues(form);
      const { account } = await api("POST", "/api/trading/accounts", { name });
      $("#account-dialog").close();
      await this.load();
      this.onOpened?.(account);
      await this.select(account.id);
      this.toast(`Trading account “${account.name}” opened; the trading views now act on it.`, "ok");
    } catch (error) {
      if (error.code === "DUPLICATE") {
        placeFieldError(form, "name", "You already have an account of that name: choose another.");
        $("#account-name").focus();
      } else {
        showFormError(form, error); // LIMIT_REACHED and the rest: the dialog's alert line
      }
    } finally {
      submit.disabled = false;
    }
  }
}
