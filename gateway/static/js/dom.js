// Small DOM helpers: build elements without innerHTML (no markup injection from API data).

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return Array.from(root.querySelectorAll(selector));
}

/** h("button", {type: "button", class: "x", onclick: fn}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** A table body from rows, or a single "empty" row spanning the columns. */
export function fillRows(tbody, rows, emptyText) {
  if (rows.length) {
    tbody.replaceChildren(...rows);
  } else {
    const columns = tbody.closest("table")?.querySelectorAll("thead th").length || 1;
    tbody.replaceChildren(h("tr", {}, h("td", { colspan: columns, class: "empty" }, emptyText)));
  }
}

/** Form fields as an object of trimmed strings, keyed by input name. */
export function formValues(form) {
  const values = {};
  for (const [key, value] of new FormData(form).entries()) values[key] = String(value).trim();
  return values;
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
