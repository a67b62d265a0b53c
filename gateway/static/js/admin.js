// The admin screen: system stats, health, pending deposits and withdrawals to decide, users
// with their funds, fund adjustments, and the performance monitor when the server has one.

import { api, clearFormErrors, describeError, showFormError } from "./api.js";
import { kv } from "./console.js";
import { $, fillRows, formValues, h } from "./dom.js";
import { pnl, rupees, when } from "./format.js";

export class AdminScreen {
  constructor({ toast }) {
    this.toast = toast;
    this.users = [];
    this.bind();
  }

  bind() {
    $("#admin-refresh").addEventListener("click", () => this.load());
    $("#user-search").addEventListener("submit", (e) => {
      e.preventDefault();
      this.loadUsers();
    });
    const form = $("#adjust-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const operation = event.submitter?.value === "withdraw" ? "withdraw" : "add";
      const v = formValues(form);
      try {
        const reply = await api("POST", `/api/admin/funds/${operation}`, {
          tradingAccountId: v.tradingAccountId || undefined,
          amount: Number(v.amount) || 0,
          remarks: v.remarks,
        });
        this.toast(
          `${operation === "add" ? "Added" : "Withdrew"} ${rupees(Number(v.amount))}; balance now ${rupees(reply.funds.balance)}.`,
          "ok",
        );
        form.elements.amount.value = "";
        this.loadUsers();
        this.loadStats();
      } catch (error) {
        showFormError(form, error);
      }
    });
  }

  async load() {
    await Promise.allSettled([this.loadStats(), this.loadHealth(), this.loadUsers()]);
    await Promise.allSettled([this.loadRequests(), this.loadPerformance()]);
  }

  async loadStats() {
    try {
      const s = await api("GET", "/api/admin/stats");
      kv($("#admin-stats"), [
        ["Users", s.users], ["Trading accounts", s.tradingAccounts], ["Orders today", s.ordersToday],
        ["Executed today", s.executedToday], ["Open positions", s.openPositions],
        ["Total balance", rupees(s.totalBalance)], ["Blocked margin", rupees(s.totalBlockedMargin)],
        ["Pending deposits", s.pendingDeposits], ["Pending withdrawals", s.pendingWithdrawals],
        ["Resets today", s.resetsToday], ["Resets in all", s.resetsTotal],
      ]);
    } catch (error) {
      kv($("#admin-stats"), [["Error", describeError(error)]]);
    }
  }

  async loadHealth() {
    let health;
    try {
      health = await api("GET", "/api/health/detailed");
    } catch (error) {
      health = error.status === 503 ? { status: "unhealthy", checks: {} } : null;
      if (!health) {
        $("#health-status").textContent = describeError(error);
        return;
      }
    }
    const status = $("#health-status");
    status.textContent = `Overall: ${health.status}`;
    status.className = `health health-${health.status}`;
    kv(
      $("#health-checks"),
      Object.entries(health.checks || {}).map(([name, check]) => [
        name,
        [check.status, check.ageMs !== undefined ? `${check.ageMs} ms old` : "", check.latencyMs !== undefined ? `${check.latencyMs} ms` : ""]
          .filter(Boolean)
          .join(" · "),
      ]),
    );
  }

  async loadUsers() {
    const search = $("#user-search-input").value.trim();
    try {
      const reply = await api("GET", `/api/admin/users?limit=200&search=${encodeURIComponent(search)}`);
      this.users = reply.items || [];
    } catch (error) {
      this.toast(`Users could not be loaded. ${describeError(error)}`, "error");
      return;
    }
    fillRows(
      $("#users-table tbody"),
      this.users.map((u) => {
        const account = u.tradingAccount || {};
        return h(
          "tr",
          { dataset: { userId: u.id } },
          h("td", {}, h("strong", {}, u.name), h("br"), h("span", { class: "muted" }, u.email)),
          h("td", {}, u.role),
          h("td", { class: "num" }, rupees(account.balance)),
          h("td", { class: "num" }, rupees(account.availableMargin)),
          h("td", { class: "num" }, rupees(account.blockedMargin)),
          h("td", { class: "num" }, pnl(account.realizedPnl)),
        );
      }),
      "No users match.",
    );
    const select = $("#adjust-account");
    const chosen = select.value;
    select.replaceChildren(
      h("option", { value: "" }, "Choose a user"),
      ...this.users.filter((u) => u.tradingAccount).map((u) => h("option", { value: u.tradingAccount.id }, `${u.name} <${u.email}>`)),
    );
    select.value = chosen;
  }

  accountLabel(accountId) {
    const user = this.users.find((u) => u.tradingAccount?.id === accountId);
    return user ? `${user.name} <${user.email}>` : accountId;
  }

  async loadRequests() {
    const [deposits, withdrawals] = await Promise.all([
      api("GET", "/api/admin/deposits?status=PENDING"),
      api("GET", "/api/admin/withdrawals?status=PENDING"),
    ]);
    fillRows(
      $("#pending-deposits tbody"),
      (deposits.items || []).map((d) =>
        h(
          "tr",
          { dataset: { depositId: d.id } },
          h("td", {}, when(d.createdAt)),
          h("td", {}, this.accountLabel(d.tradingAccountId)),
          h("td", { class: "num" }, rupees(d.amount)),
          h("td", {}, d.reference || ""),
          h("td", {}, this.decisionButtons("deposits", "depositId", d)),
        ),
      ),
      "No pending deposits.",
    );
    fillRows(
      $("#pending-withdrawals tbody"),
      (withdrawals.items || []).map((w) =>
        h(
          "tr",
          { dataset: { withdrawalId: w.id } },
          h("td", {}, when(w.createdAt)),
          h("td", {}, this.accountLabel(w.tradingAccountId)),
          h("td", { class: "num" }, rupees(w.amount)),
          h("td", {}, this.decisionButtons("withdrawals", "withdrawalId", w)),
        ),
      ),
      "No pending withdrawals.",
    );
  }

  decisionButtons(kind, idField, request) {
    const who = this.accountLabel(request.tradingAccountId);
    const decide = async (action) => {
      try {
        await api("POST", `/api/admin/${kind}`, { [idField]: request.id, action });
        this.toast(`${action === "APPROVE" ? "Approved" : "Rejected"} ${rupees(request.amount)} for ${who}.`, "ok");
      } catch (error) {
        this.toast(describeError(error), "error");
      }
      this.load();
    };
    const noun = kind === "deposits" ? "deposit" : "withdrawal";
    return h(
      "div",
      { class: "row-actions" },
      h("button", { type: "button", class: "btn-primary", "aria-label": `Approve ${noun} of ${rupees(request.amount)} for ${who}`, onclick: () => decide("APPROVE") }, "Approve"),
      h("button", { type: "button", class: "danger", "aria-label": `Reject ${noun} of ${rupees(request.amount)} for ${who}`, onclick: () => decide("REJECT") }, "Reject"),
    );
  }

  /** The performance monitor is optional: shown only when the route answers. */
  async loadPerformance() {
    const panel = $("#perf-panel");
    let reply;
    try {
      reply = await api("GET", "/api/monitoring/performance?type=summary", undefined, { quietAuth: true });
    } catch {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const items = Array.isArray(reply) ? reply : reply.items || [];
    fillRows(
      $("#perf-table tbody"),
      items.map((op) =>
        h(
          "tr",
          {},
          h("td", {}, op.operation),
          h("td", { class: "num" }, op.count),
          h("td", { class: "num" }, `${(Number(op.successRate) * 100).toFixed(1)}%`),
          h("td", { class: "num" }, Number(op.p50Ms).toFixed(1)),
          h("td", { class: "num" }, Number(op.p95Ms).toFixed(1)),
          h("td", { class: "num" }, Number(op.p99Ms).toFixed(1)),
        ),
      ),
      "No operations recorded yet.",
    );
  }
}
