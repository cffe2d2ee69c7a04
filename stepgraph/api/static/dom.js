// Small DOM helpers: elements are built with textContent, never from HTML strings.

/** h("a", {href: "#/x", class: "btn"}, "text", child…) → an element. `on*` attributes become listeners. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Pretty JSON for a <pre>. */
export function json(value) {
  return JSON.stringify(value, null, 2);
}

/** A local time for an ISO timestamp (or "—"). */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** An error box (role=alert) for an ApiError or any Error; details listed when present. */
export function errorBox(error, prefix = "") {
  const text = typeof error.describe === "function" ? error.describe() : error.message || String(error);
  const box = h("div", { class: "error", role: "alert" }, h("p", {}, prefix ? `${prefix}: ${text}` : text));
  if (Array.isArray(error.details) && error.details.length) {
    box.append(h("ul", {}, error.details.map((d) =>
      h("li", {}, [d.step ? `step ${d.step}` : null, d.path, d.message].filter(Boolean).join(" — ")))));
  }
  return box;
}

/** A status badge: the word is the text alternative of its colour. */
export function badge(status) {
  return h("span", { class: `badge status-${status.replace(" ", "-")}` }, status);
}

/** Tell screen readers something (the page's aria-live region). */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (region) region.textContent = text;
}
