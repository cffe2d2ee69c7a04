// Workflows: the list, and one workflow's page (graph, trigger, chained workflows, Run).
import { execute, getWorkflow, listExecutions, listWorkflows } from "./api.js";
import { badge, errorBox, h, json, when } from "./dom.js";
import { graphSteps, showGraph } from "./graph.js";

export async function workflowsView({ main }) {
  const { workflows } = await listWorkflows();
  const rows = workflows.map((w) => h("tr", {},
    h("td", {}, h("a", { href: `#/workflows/${encodeURIComponent(w.workflow_id)}` }, w.name)),
    h("td", {}, w.description || ""),
    h("td", { class: "num" }, String(w.step_count)),
    h("td", {}, w.source)));
  main.replaceChildren(h("h1", {}, "Workflows"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, "Workflows of this deployment"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Description"),
        h("th", { scope: "col" }, "Steps"), h("th", { scope: "col" }, "Source"))),
      h("tbody", {}, rows))));
}

function triggerText(document) {
  const trigger = (document.steps || []).find((s) => s.step_type === "trigger");
  if (!trigger) return "no trigger";
  const params = trigger.parameters || {};
  const kind = params.kind || "api";
  const extra = Object.entries(params).filter(([k]) => k !== "kind" && k !== "input")
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return extra.length ? `${kind} (${extra.join(", ")})` : kind;
}

export async function workflowView({ main }, workflowId) {
  const workflow = await getWorkflow(workflowId);
  const doc = workflow.document || {};
  const graph = h("div", { class: "graph", id: "graph" });
  const chained = (doc.on_complete || []).map((c) => h("li", {},
    h("a", { href: `#/workflows/${encodeURIComponent(c.workflow)}` }, c.workflow), ` when ${c.when || "completed"}`));
  const initial = workflow.example_input || { trigger: { kind: "api" } };
  const editor = h("textarea", { id: "input", name: "input", rows: "12", spellcheck: "false",
    "aria-describedby": "input-help" });
  editor.value = json(initial);
  const problems = h("div", { id: "run-problems" });
  const runButton = h("button", { type: "submit", class: "primary" }, "Run");
  const form = h("form", { class: "run", onsubmit: async (event) => {
    event.preventDefault();
    problems.replaceChildren();
    try {
      JSON.parse(editor.value);
    } catch (error) {
      problems.replaceChildren(errorBox(error, "The input is not valid JSON"));
      editor.focus();
      return;
    }
    runButton.disabled = true;
    try {
      const started = await execute(workflowId, editor.value);
      window.location.hash = `#/executions/${encodeURIComponent(started.execution_id)}`;
    } catch (error) {
      problems.replaceChildren(errorBox(error, "The API refused the run"));
    } finally {
      runButton.disabled = false;
    }
  } },
  h("label", { for: "input" }, "Input (the execute request, JSON)"), editor,
  h("p", { id: "input-help", class: "help" }, workflow.example_input
    ? `Prefilled from examples/${workflowId}.input.json.` : "No example input: edit the request."),
  problems, runButton);
  const recent = h("div", {}, h("p", {}, "Loading…"));
  main.replaceChildren(
    h("h1", {}, workflow.name),
    workflow.description ? h("p", { class: "lead" }, workflow.description) : null,
    h("dl", { class: "facts" },
      h("dt", {}, "Trigger"), h("dd", {}, triggerText(doc)),
      h("dt", {}, "Steps"), h("dd", {}, String(workflow.step_count)),
      h("dt", {}, "Chains to"), h("dd", {}, chained.length ? h("ul", { class: "inline" }, chained) : "nothing (no on_complete)"),
      h("dt", {}, "State machine"), h("dd", { class: "mono" }, workflow.state_machine_arn)),
    h("div", { class: "split" },
      h("section", { "aria-labelledby": "graph-heading", class: "graph-panel" },
        h("h2", { id: "graph-heading" }, "Graph"), graph),
      h("section", { "aria-labelledby": "run-heading" }, h("h2", { id: "run-heading" }, "Run"), form)),
    h("section", { "aria-labelledby": "recent-heading" }, h("h2", { id: "recent-heading" }, "Recent executions"), recent));
  try {
    const svg = await showGraph(graph, workflowId);
    graph.append(h("p", { class: "visually-hidden" }, `Steps: ${graphSteps(svg).join(", ")}`));
  } catch (error) {
    graph.replaceChildren(errorBox(error, "Cannot draw the graph"));
  }
  try {
    const { executions } = await listExecutions({ workflowId, limit: 5 });
    recent.replaceChildren(executions.length ? h("ul", {}, executions.map((e) => h("li", {},
      h("a", { href: `#/executions/${encodeURIComponent(e.execution_id)}` }, e.execution_id.split(":")[1]), " ",
      badge(e.status), ` ${when(e.started_at)}`))) : h("p", {}, "None yet."),
    h("p", {}, h("a", { href: `#/executions?workflow=${encodeURIComponent(workflowId)}` }, "All executions of this workflow")));
  } catch (error) {
    recent.replaceChildren(errorBox(error));
  }
}
