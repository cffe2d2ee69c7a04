// The console's entry: sign-in, then a hash router over the views (#/workflows, #/executions …).
import { me } from "./api.js";
import * as auth from "./auth.js";
import { errorBox, h } from "./dom.js";
import { approvalsView } from "./approvals.js";
import { executionView } from "./execution.js";
import { executionsView } from "./executions.js";
import { workflowView, workflowsView } from "./workflows.js";

const main = document.getElementById("main");
let config = { auth: "token" };
let identity = null;
let leave = null; // the current view's clean-up (closes its stream)

function routeOf(hash) {
  const [path, query = ""] = (hash.replace(/^#/, "") || "/workflows").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(query) };
}

async function render() {
  if (leave) { leave(); leave = null; }
  if (!auth.getToken()) { signInView(); return; }
  if (!identity) {
    try {
      identity = await me();
    } catch (error) {
      if (!auth.getToken()) return; // a 401 signed out and showed the sign-in
      main.replaceChildren(errorBox(error, "Cannot reach the API"));
      return;
    }
  }
  document.getElementById("who").hidden = false;
  document.getElementById("who-name").textContent = `Signed in as ${identity.subject}`;
  const { parts, query } = routeOf(window.location.hash);
  const context = { main, identity, query };
  const [section, id] = parts;
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.getAttribute("href") === `#/${section}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  main.replaceChildren(h("p", {}, "Loading…"));
  try {
    if (section === "workflows" && id) leave = await workflowView(context, id);
    else if (section === "executions" && id) leave = await executionView(context, id);
    else if (section === "executions") leave = await executionsView(context);
    else if (section === "approvals") leave = await approvalsView(context);
    else leave = await workflowsView(context);
  } catch (error) {
    main.replaceChildren(errorBox(error));
  }
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} · stepgraph console` : "stepgraph console";
}

function signInView(message = "") {
  document.getElementById("who").hidden = true;
  document.title = "Sign in · stepgraph console";
  const notice = message ? h("div", { class: "error", role: "alert" }, h("p", {}, message)) : null;
  if (config.auth === "cognito") {
    main.replaceChildren(h("h1", {}, "Sign in"), notice,
      h("p", {}, "Sign in with your account of the deployment's user pool."),
      h("button", { type: "button", class: "primary", onclick: () => auth.startCognitoSignIn(config) }, "Sign in"));
    return;
  }
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    "aria-describedby": "token-help", spellcheck: "false" });
  const form = h("form", { class: "sign-in", onsubmit: (event) => {
    event.preventDefault();
    auth.setToken(input.value);
    identity = null;
    render();
  } },
  h("label", { for: "token" }, "API token"), input,
  h("p", { id: "token-help", class: "help" },
    "The token stepgraph serve printed (export STEPGRAPH_API_TOKEN=…), or one of STEPGRAPH_API_TOKENS. ",
    "It is kept in this browser tab only."),
  h("button", { type: "submit", class: "primary" }, "Sign in"));
  main.replaceChildren(h("h1", {}, "Sign in"), notice, form);
  input.focus();
}

auth.onSignOut(({ reason }) => {
  identity = null;
  if (leave) { leave(); leave = null; }
  signInView(reason);
});

document.getElementById("sign-out").addEventListener("click", () => {
  auth.signOut();
  if (config.auth === "cognito") window.location.assign(auth.logoutUrl(config));
});

window.addEventListener("hashchange", () => { render(); main.focus({ preventScroll: true }); });

async function start() {
  try {
    const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
    if (response.ok) config = await response.json();
  } catch { /* keep the token sign-in */ }
  if (config.auth === "cognito") {
    try {
      await auth.finishCognitoSignIn(config);
    } catch (error) {
      signInView(error.message);
      return;
    }
  }
  render();
}

start();
