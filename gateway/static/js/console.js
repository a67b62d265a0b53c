// The console: profile, bank accounts, deposit and withdrawal requests with their status, the
// ledger and resetting the account, all from GET /api/console and its POST actions.

import { api, clearFormErrors, showFormError } from "./api.js";
import { $, fillRows, formValues, h } from "./dom.js";
import { pnl, pnlClass, rupees, when } from "./format.js";

export class ConsoleScreen {
  constructor({ toast, onProfile, onReset, accountId }) {
    this.toast = toast;
    this.onProfile = onProfile;
    this.onReset = onReset;
    this.accountId = accountId; // () => the trading account chosen in the header (or null)
    this.data = null;
    this.bind();
  }

  bind() {
    this.action($("#profile-form"), (v) => ({ action: "UPDATE_PROFILE", name: v.name }), (reply) => {
      this.onProfile(reply.user);
      return "Name saved.";
    });
    this.action(
      $("#password-form"),
      (v) => ({ action: "CHANGE_PASSWORD", currentPassword: v.currentPassword, newPassword: v.newPassword }),
      () => "Password changed. Other sessions were signed out.",
    );
    this.action(
      $("#bank-form"),
      (v) => ({ action: "ADD_BANK_ACCOUNT", bankName: v.bankName, accountHolder: v.accountHolder, accountNumber: v.accountNumber, ifsc: v.ifsc.toUpperCase() }),
      () => "Bank account added.",
    );
    this.action(
      $("#deposit-form"),
      (v) => ({ action: "REQUEST_DEPOSIT", amount: amount(v.amount), ...(v.bankAccountId ? { bankAccountId: v.bankAccountId } : {}), reference: v.reference, ...this.account() }),
      (reply) => `Deposit of ${rupees(reply.deposit.amount)} requested; it waits for approval.`,
    );
    this.action(
      $("#withdraw-form"),
      (v) => ({ action: "REQUEST_WITHDRAWAL", amount: amount(v.amount), bankAccountId: v.bankAccountId, ...this.account() }),
      (reply) => `Withdrawal of ${rupees(reply.withdrawal.amount)} requested; the amount is blocked until a decision.`,
    );
    this.bindReset();
  }

  /** The reset dialog: its button works only once the account's name is typed exactly. */
  bindReset() {
    const dialog = $("#reset-dialog");
    const form = $("#reset-form");
    const input = $("#reset-confirm");
    const submit = $("#reset-submit");
    $("#reset-open").addEventListener("click", () => {
      form.reset();
      clearFormErrors(form);
      submit.disabled = true;
      $("#reset-name").textContent = this.accountName();
      dialog.showModal();
      input.focus();
    });
    $("#reset-cancel").addEventListener("click", () => dialog.close());
    input.addEventListener("input", () => {
      submit.disabled = input.value.trim() !== this.accountName();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      submit.disabled = true;
      try {
        const reply = await api("POST", "/api/console", { action: "RESET_ACCOUNT", confirm: input.value.trim(), ...this.account() });
        dialog.close();
        const r = reply.reset;
        this.toast(`Account reset: ${r.ordersCancelled} orders cancelled, ${r.positionsClosed} positions closed, ${r.holdingsSold} holdings sold; balance ${rupees(reply.funds.balance)}.`, "ok");
        await this.load();
        await this.onReset?.();
      } catch (error) {
        showFormError(form, error);
        submit.disabled = input.value.trim() !== this.accountName();
      }
    });
  }

  /** The account's name as this view shows it: accounts have no other name than their id. */
  accountName() {
    return this.data ? this.data.tradingAccount.id : "";
  }

  /** Wire a form to a POST /api/console action; errors land next to their fields. */
  action(form, build, success) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        const reply = await api("POST", "/api/console", build(formValues(form)));
        this.toast(success(reply), "ok");
        if (form.id !== "profile-form") form.reset();
        await this.load();
      } catch (error) {
        showFormError(form, error);
      } finally {
        button.disabled = false;
      }
    });
  }

  /** The chosen account as the console's actions name it (none: the server's first). */
  account() {
    const id = this.accountId?.();
    return id ? { tradingAccountId: id } : {};
  }

  async load() {
    const id = this.accountId?.();
    this.data = await api("GET", id ? `/api/console?tradingAccountId=${encodeURIComponent(id)}` : "/api/console");
    this.render();
    return this.data;
  }

  render() {
    const { user, funds, bankAccounts, deposits, withdrawals, transactions, resets } = this.data;
    kv($("#profile"), [
      ["Name", user.name], ["Email", user.email], ["Role", user.role], ["Member since", when(user.createdAt)],
    ]);
    const nameInput = $("#profile-name");
    if (document.activeElement !== nameInput) nameInput.value = user.name;
    kv($("#console-funds"), [
      ["Balance", rupees(funds.balance)], ["Available", rupees(funds.availableMargin)],
      ["Blocked", rupees(funds.blockedMargin)], ["Realized P&L", pnl(funds.realizedPnl)],
      ["Charges paid", rupees(funds.totalCharges)],
    ]);

    kv($("#reset-info"), [
      ["Account", this.accountName()], ["Resets today", `${resets.today} of ${resets.perDayMax}`],
      ["Last reset", resets.lastResetAt ? when(resets.lastResetAt) : "never"],
    ]);
    $("#reset-open").disabled = resets.today >= resets.perDayMax;

    const banks = $("#bank-list");
    banks.replaceChildren(
      ...bankAccounts.map((b) =>
        h(
          "li",
          {},
          h("span", {}, h("strong", {}, b.bankName), ` ${b.accountNumber} · ${b.ifsc} · ${b.accountHolder}`),
          h("button", { type: "button", class: "btn-quiet", "aria-label": `Remove ${b.bankName} ${b.accountNumber}`, onclick: () => this.removeBank(b) }, "Remove"),
        ),
      ),
    );
    if (!bankAccounts.length) banks.replaceChildren(h("li", { class: "empty" }, "No bank accounts yet."));
    for (const select of document.querySelectorAll(".bank-select")) {
      const optional = select.id === "deposit-bank";
      select.replaceChildren(
        h("option", { value: "" }, optional ? "Not specified" : bankAccounts.length ? "Choose an account" : "Add a bank account first"),
        ...bankAccounts.map((b) => h("option", { value: b.id }, `${b.bankName} ${b.accountNumber}`)),
      );
    }

    const requests = [
      ...deposits.map((d) => ({ ...d, kind: "Deposit" })),
      ...withdrawals.map((w) => ({ ...w, kind: "Withdrawal" })),
    ].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
    fillRows(
      $("#requests-table tbody"),
      requests.map((r) =>
        h(
          "tr",
          { dataset: { requestId: r.id, status: r.status } },
          h("td", { class: "nowrap" }, when(r.createdAt)),
          h("td", {}, r.kind),
          h("td", { class: "num" }, rupees(r.amount)),
          h("td", {}, h("span", { class: `status status-${r.status.toLowerCase()}` }, r.status)),
          h("td", {}, when(r.decidedAt)),
          h("td", {}, r.remarks || ""),
        ),
      ),
      "No requests yet.",
    );

    fillRows(
      $("#ledger-table tbody"),
      transactions.map((t) =>
        h(
          "tr",
          {},
          h("td", { class: "nowrap" }, when(t.createdAt)),
          h("td", {}, t.kind.replaceAll("_", " ").toLowerCase(), t.book ? h("span", { class: "muted" }, ` · ${String(t.book).toLowerCase()}`) : ""),
          h("td", { class: `num ${pnlClass(t.amount)}` }, pnl(t.amount)),
          h("td", { class: "num" }, rupees(t.balanceAfter)),
          h("td", { class: "muted" }, t.description || t.reference || ""),
        ),
      ),
      "No transactions yet.",
    );
  }

  async removeBank(bank) {
    try {
      await api("POST", "/api/console", { action: "REMOVE_BANK_ACCOUNT", bankAccountId: bank.id });
      this.toast(`Removed ${bank.bankName} ${bank.accountNumber}.`, "ok");
      await this.load();
    } catch (error) {
      this.toast(String(error.message), "error");
    }
  }
}

function amount(text) {
  const n = Number(text);
  return text === "" || Number.isNaN(n) ? 0 : n;
}

export function kv(dl, pairs) {
  dl.replaceChildren(...pairs.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v ?? "—"))));
}
