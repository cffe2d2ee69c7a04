// Executions: newest first, a status and workflow filter, pages by next_token.
import { listExecutions, listWorkflows } from "./api.js";
import { badge, errorBox, h, when } from "./dom.js";

const STATUSES = ["pending", "running", "waiting", "completed", "failed", "cancelled", "timeout"];

export async function executionsView({ main, query }) {
  const status = query.get("status") || "";
  const workflowId = query.get("workflow") || "";
  const { workflows } = await listWorkflows();
  const statusSelect = h("select", { id: "status-filter", name: "status" },
    h("option", { value: "" }, "any status"), STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  const workflowSelect = h("select", { id: "workflow-filter", name: "workflow" },
    h("option", { value: "" }, "any workflow"),
    workflows.map((w) => h("option", { value: w.workflow_id, selected: w.workflow_id === workflowId }, w.name)));
  const filters = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (statusSelect.value) next.set("status", statusSelect.value);
    if (workflowSelect.value) next.set("workflow", workflowSelect.value);
    window.location.hash = `#/executions${next.toString() ? `?${next}` : ""}`;
  } },
  h("label", { for: "status-filter" }, "Status"), statusSelect,
  h("label", { for: "workflow-filter" }, "Workflow"), workflowSelect,
  h("button", { type: "submit" }, "Filter"));
  const body = h("tbody", {});
  const region = h("div", { class: "table-wrap", "aria-live": "polite" });
  const pager = h("div", { class: "pager" });
  const tokens = [null]; // the token of each page shown so far
  let page = 0;

  async function load() {
    region.replaceChildren(h("p", {}, "Loading…"));
    pager.replaceChildren();
    let answer;
    try {
      answer = await listExecutions({ status, workflowId, limit: 20, nextToken: tokens[page] });
    } catch (error) {
      region.replaceChildren(errorBox(error));
      return;
    }
    body.replaceChildren(...answer.executions.map((e) => h("tr", {},
      h("td", {}, h("a", { href: `#/executions/${encodeURIComponent(e.execution_id)}` }, e.execution_id.split(":")[1])),
      h("td", {}, h("a", { href: `#/workflows/${encodeURIComponent(e.workflow_id)}` }, e.workflow_id)),
      h("td", {}, badge(e.status)), h("td", {}, when(e.started_at)), h("td", {}, when(e.completed_at)))));
    region.replaceChildren(answer.executions.length ? h("table", {},
      h("caption", { class: "visually-hidden" }, "Executions, newest first"),
      h("thead", {}, h("tr", {}, ["Execution", "Workflow", "Status", "Started", "Ended"].map((t) => h("th", { scope: "col" }, t)))),
      body) : h("p", {}, "No executions match."));
    tokens[page + 1] = answer.next_token;
    pager.replaceChildren(
      h("span", {}, `Page ${page + 1}`),
      h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "Newer"),
      h("button", { type: "button", disabled: !answer.next_token, onclick: () => { page += 1; load(); } }, "Older"));
  }

  main.replaceChildren(h("h1", {}, "Executions"), filters, region, pager);
  await load();
}
