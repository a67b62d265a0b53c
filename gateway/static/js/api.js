// The HTTP side of the API contract: JSON in and out, the session cookie, X-CSRF-Token on
// unsafe methods, and errors turned into sentences a person can act on.

import { rupees } from "./format.js";

const CSRF_KEY = "paperdesk.csrf";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

let csrfToken = sessionStorage.getItem(CSRF_KEY);
const unauthenticatedListeners = [];

export function setCsrf(token) {
  csrfToken = token;
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

export function hasCsrf() {
  return Boolean(csrfToken);
}

/** Run `fn` when a call answers 401 (the session ended); the app shows the login form. */
export function onUnauthenticated(fn) {
  unauthenticatedListeners.push(fn);
}

export class ApiError extends Error {
  constructor(status, code, message, details, retryAfterS) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterS = retryAfterS;
  }

  /** Validation details as [{path, field, message}] ("$.quantity" -> "quantity"). */
  get fieldErrors() {
    if (this.code !== "VALIDATION_ERROR" || !Array.isArray(this.details)) return [];
    return this.details.map((d) => ({
      path: d.path,
      field: String(d.path || "").replace(/^\$\.?/, "").split(/[.[]/)[0],
      message: humanize(d.message),
    }));
  }
}

// The server's schema messages, in words for a person (the original is kept when unknown).
const SCHEMA_MESSAGES = [
  [/^Expected `str` of length >= (\d+)/, (m) => `Must be at least ${m[1]} characters.`],
  [/^Expected `str` of length <= (\d+)/, (m) => `Must be at most ${m[1]} characters.`],
  [/^Expected `str` matching regex/, () => "Has the wrong format."],
  [/^Expected `(?:int|float)` >= (\S+)/, (m) => `Must be at least ${m[1]}.`],
  [/^Expected `(?:int|float)` > (\S+)/, (m) => `Must be more than ${m[1]}.`],
  [/^Expected `(?:int|float)` <= (\S+)/, (m) => `Must be at most ${m[1]}.`],
  [/^Expected `int`, got `float`/, () => "Must be a whole number."],
  [/^Object missing required field/, () => "Required."],
];

function humanize(message) {
  const text = String(message || "");
  for (const [pattern, words] of SCHEMA_MESSAGES) {
    const match = text.match(pattern);
    if (match) return words(match);
  }
  return text;
}

export async function api(method, path, body, { quietAuth = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NETWORK", "The server cannot be reached. Check your connection.");
  }
  const text = await response.text();
  let payload = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }
  if (response.ok) return payload;
  const error = payload?.error || {};
  const retry = Number(response.headers.get("Retry-After")) || undefined;
  const failure = new ApiError(
    response.status,
    error.code || `HTTP_${response.status}`,
    error.message || `The server answered ${response.status}.`,
    error.details,
    retry,
  );
  if (response.status === 401 && !quietAuth) {
    for (const fn of unauthenticatedListeners) fn(failure);
  }
  throw failure;
}

/** Where more virtual money comes from, for every "not enough funds" the person reads. */
export const MORE_FUNDS =
  "To get more, request a deposit in the Console (an admin approves it) or reset the account there.";

/** One sentence (or two) describing what went wrong and what to do about it. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return String(error?.message || error);
  const d = error.details || {};
  switch (error.code) {
    case "RATE_LIMITED":
      return error.retryAfterS
        ? `Too many requests. Try again in ${error.retryAfterS} second${error.retryAfterS === 1 ? "" : "s"}.`
        : "Too many requests. Wait a moment and try again.";
    case "INSUFFICIENT_FUNDS":
      if (d.requiredMargin !== undefined) {
        const needed = Number(d.requiredMargin) + Number(d.estimatedCharges || 0);
        const short = Math.max(0, needed - Number(d.availableMargin || 0));
        return (
          `Insufficient funds: this needs ${rupees(d.requiredMargin)} margin plus ` +
          `${rupees(d.estimatedCharges)} estimated charges, but only ` +
          `${rupees(d.availableMargin)} is available (short by ${rupees(short)}). ` +
          MORE_FUNDS
        );
      }
      return `Insufficient funds. ${error.message} ${MORE_FUNDS}`;
    case "VALIDATION_ERROR": {
      const fields = error.fieldErrors;
      if (!fields.length) return error.message;
      return fields.map((f) => `${f.field || "request"}: ${f.message}`).join("; ");
    }
    case "CSRF_FAILED":
      return "Your session's security token is missing here. Please log in again.";
    case "UNAUTHENTICATED":
      return error.message || "Please log in.";
    case "UNAVAILABLE":
      return `${error.message} Nothing was changed; try again shortly.`;
    default:
      return error.message;
  }
}

/**
 * Show an error on a form: validation messages next to their fields (by input name), the rest
 * in the form's alert line. Returns the sentence shown.
 */
export function showFormError(form, error) {
  clearFormErrors(form);
  const alert = form.querySelector(".form-error");
  const unplaced = [];
  const fields = error instanceof ApiError ? error.fieldErrors : [];
  for (const f of fields) {
    if (!placeFieldError(form, f.field, f.message)) unplaced.push(`${f.field}: ${f.message}`);
  }
  let sentence;
  if (fields.length) {
    sentence = unplaced.length ? unplaced.join("; ") : "Please correct the highlighted fields.";
  } else {
    sentence = describeError(error);
  }
  if (alert) {
    alert.textContent = sentence;
    alert.hidden = false;
  }
  return sentence;
}

export function placeFieldError(form, field, message) {
  const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
  if (!slot) return false;
  slot.textContent = message;
  slot.hidden = false;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    if (!slot.id) slot.id = `${form.id || "f"}-${field}-error`;
    input.setAttribute("aria-describedby", slot.id);
  }
  return true;
}

export function clearFormErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const alert = form.querySelector(".form-error");
  if (alert) {
    alert.textContent = "";
    alert.hidden = true;
  }
}
