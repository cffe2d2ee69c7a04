// The workflow graph: the API's SVG (GET /api/workflows/{id}/graph.svg, laid out in Python) in
// the page, each step's <g data-step-id> coloured by its state through data-state and CSS.
import { workflowGraph } from "./api.js";
import { h } from "./dom.js";

export const STATES = ["pending", "running", "waiting", "completed", "failed", "not run"];

/** Fetch and insert a workflow's graph into `container`; returns the <svg> element. */
export async function showGraph(container, workflowId) {
  const text = await workflowGraph(workflowId);
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = parsed.documentElement;
  if (svg.nodeName !== "svg") throw new Error("the graph is not an SVG document");
  svg.querySelectorAll("script, foreignObject").forEach((node) => node.remove());
  const imported = document.importNode(svg, true);
  imported.removeAttribute("width");
  imported.removeAttribute("height");
  container.replaceChildren(imported);
  return imported;
}

/** The step ids the graph shows, in drawing order. */
export function graphSteps(svg) {
  return [...svg.querySelectorAll("g.node[data-step-id]")].map((g) => g.dataset.stepId);
}

/** Colour one step; unknown steps (a helper state) are ignored. */
export function setStepState(svg, stepId, state) {
  if (!svg) return;
  for (const node of svg.querySelectorAll("g.node[data-step-id]")) {
    if (node.dataset.stepId === stepId) {
      node.dataset.state = state;
      const title = node.querySelector("title");
      if (title) title.textContent = `${stepId}: ${state}`;
    }
  }
}

/** A legend of the state colours (the list of steps next to the graph says each step's state in words). */
export function legend() {
  return h("ul", { class: "legend", "aria-label": "Colours of step states" },
    STATES.map((state) => h("li", {}, h("span", { class: `swatch state-${state.replace(" ", "-")}`, "aria-hidden": "true" }), state)));
}
