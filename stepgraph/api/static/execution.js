// One execution: the graph coloured by step state, live from the event stream; timeline, agent
// text as it streams, each step's output and error, the result, cancel.
import { cancelExecution, getExecution } from "./api.js";
import { announce, badge, errorBox, h, json, when } from "./dom.js";
import { graphSteps, legend, setStepState, showGraph } from "./graph.js";
import { follow } from "./sse.js";

const ENDED = ["completed", "failed", "cancelled", "timeout"];

export async function executionView({ main }, executionId) {
  let view = await getExecution(executionId);
  const steps = new Map(); // step id → {state, result, error, text, row parts}
  let svg = null;

  const statusBadge = h("span", { id: "execution-status" }, badge(view.status));
  const cancelButton = h("button", { type: "button", id: "cancel", onclick: cancel }, "Cancel");
  const cancelProblems = h("div", {});
  const graph = h("div", { class: "graph", id: "graph" });
  const stepList = h("ol", { class: "step-states", id: "step-states", "aria-live": "polite" });
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const details = h("div", { id: "step-details" });
  const outcome = h("section", { id: "outcome", "aria-labelledby": "outcome-heading", "aria-live": "polite" });
  const approvalNote = h("div", { id: "approval-note" });

  function step(stepId) {
    if (!steps.has(stepId)) {
      const state = h("span", { class: "state" });
      const text = h("pre", { class: "delta", hidden: true, "aria-label": `Agent text of ${stepId}` });
      const output = h("pre", { class: "output", hidden: true });
      const error = h("div", { class: "step-error", hidden: true });
      const box = h("details", { class: "step", id: `step-${stepId}`, "data-step-id": stepId },
        h("summary", {}, h("span", { class: "step-name" }, stepId), " ", state), text, output, error);
      details.append(box);
      const item = h("li", { "data-step-id": stepId }, h("span", { class: "step-name" }, stepId), " — ", h("span", { class: "state-text" }, "pending"));
      stepList.append(item);
      steps.set(stepId, { state: "pending", stateBadge: state, text, output, error, box, item });
      state.replaceChildren(badge("pending"));
    }
    return steps.get(stepId);
  }

  function setState(stepId, state) {
    if (!stepId) return;
    const s = step(stepId);
    s.state = state;
    s.stateBadge.replaceChildren(badge(state));
    s.item.querySelector(".state-text").textContent = state;
    s.item.dataset.state = state;
    setStepState(svg, stepId, state);
  }

  function setOutput(stepId, result) {
    const s = step(stepId);
    s.output.hidden = false;
    s.output.textContent = `output: ${json(result)}`;
  }

  function setError(stepId, error, final) {
    const s = step(stepId);
    s.error.hidden = false;
    const code = (error && (error.code || error.Error)) || "ERROR";
    const message = (error && (error.message || error.Cause)) || "";
    s.error.append(h("p", { class: final ? "error" : "warning", role: final ? "alert" : null },
      h("strong", {}, final ? "failed: " : "attempt failed: "), h("code", { class: "error-code" }, code), " ",
      h("span", { class: "error-message" }, message)));
    if (final) s.box.open = true;
  }

  function event(name, text, at) {
    timeline.append(h("li", { "data-event": name }, h("time", {}, at ? new Date(at).toLocaleTimeString() : ""), " ",
      h("strong", {}, name), " ", text));
    timeline.scrollTop = timeline.scrollHeight;
  }

  function showOutcome(current) {
    statusBadge.replaceChildren(badge(current.status));
    cancelButton.hidden = ENDED.includes(current.status);
    const parts = [h("h2", { id: "outcome-heading" }, "Result")];
    if (ENDED.includes(current.status)) {
      for (const [stepId, s] of steps) if (s.state === "pending") setState(stepId, "not run");
      parts.push(h("p", {}, "Status ", badge(current.status), current.completed_at ? ` at ${when(current.completed_at)}` : ""));
      if (current.result !== null && current.result !== undefined) parts.push(h("pre", { id: "result" }, json(current.result)));
      if (current.error) {
        parts.push(h("div", { class: "error", role: "alert", id: "execution-error" },
          h("p", {}, h("code", { class: "error-code" }, current.error.code || "ERROR"),
            current.error.step ? ` in step ${current.error.step}: ` : ": ",
            h("span", { class: "error-message" }, current.error.message || ""))));
      }
    } else {
      parts.push(h("p", {}, "Not finished yet: this page updates as the run goes on."));
    }
    outcome.replaceChildren(...parts);
  }

  function applyView(current) {
    for (const s of current.steps) {
      setState(s.step_id, s.status);
      if (s.result !== null && s.result !== undefined && s.status === "completed") setOutput(s.step_id, s.result);
      if (s.error && s.status === "failed") { step(s.step_id).error.replaceChildren(); setError(s.step_id, s.error, true); }
    }
    showOutcome(current);
  }

  async function cancel() {
    cancelProblems.replaceChildren();
    cancelButton.disabled = true;
    try {
      await cancelExecution(executionId);
      announce("Cancel requested");
    } catch (error) {
      cancelProblems.replaceChildren(errorBox(error, "Cannot cancel"));
    } finally {
      cancelButton.disabled = false;
    }
  }

  const [workflowName, runName] = executionId.split(":");
  main.replaceChildren(
    h("h1", {}, `Execution ${runName || executionId}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Workflow"), h("dd", {}, h("a", { href: `#/workflows/${encodeURIComponent(view.workflow_id)}` }, view.workflow_id)),
      h("dt", {}, "Status"), h("dd", {}, statusBadge),
      h("dt", {}, "Started"), h("dd", {}, when(view.started_at)),
      h("dt", {}, "Execution id"), h("dd", { class: "mono" }, executionId)),
    h("div", { class: "actions" }, cancelButton), cancelProblems, approvalNote,
    h("div", { class: "split" },
      h("section", { class: "graph-panel", "aria-labelledby": "graph-heading" }, h("h2", { id: "graph-heading" }, "Graph"), graph, legend()),
      h("section", { "aria-labelledby": "states-heading" }, h("h2", { id: "states-heading" }, "Steps"), stepList)),
    outcome,
    h("section", { "aria-labelledby": "details-heading" }, h("h2", { id: "details-heading" }, "Step output"), details),
    h("section", { "aria-labelledby": "timeline-heading" }, h("h2", { id: "timeline-heading" }, "Timeline"), timeline));
  try {
    svg = await showGraph(graph, workflowName);
    for (const stepId of graphSteps(svg)) step(stepId);
  } catch (error) {
    graph.replaceChildren(errorBox(error, "Cannot draw the graph"));
  }
  applyView(view);

  const stop = follow(executionId, (name, data) => {
    const at = data && data.timestamp;
    switch (name) {
      case "connected": event(name, data.resumed_after ? `resumed after ${data.resumed_after}` : "", at); break;
      case "step_start": setState(data.step_id, "running"); event(name, data.step_id, at); break;
      case "step_complete":
        setState(data.step_id, "completed"); setOutput(data.step_id, data.result); event(name, data.step_id, at); break;
      case "delta": {
        const s = step(data.step_id);
        s.text.hidden = false;
        s.text.textContent += data.text;
        s.box.open = true;
        break;
      }
      case "tool_call": event(name, `${data.step_id} → ${data.tool}`, at); break;
      case "tool_result": event(name, `${data.step_id} ← ${data.tool}`, at); break;
      case "error":
        if (data.step_id) { setError(data.step_id, data.error, data.final); if (data.final) setState(data.step_id, "failed"); }
        event(name, `${data.step_id || ""} ${(data.error && data.error.code) || ""}${data.final ? "" : " (retrying)"}`, at);
        break;
      case "status":
        if (data.step_id) setState(data.step_id, data.status);
        if (data.status === "waiting") {
          approvalNote.replaceChildren(h("p", { class: "notice" }, `Step ${data.step_id} waits for a human approval: `,
            h("a", { href: "#/approvals" }, "open the approvals inbox")));
        } else {
          approvalNote.replaceChildren();
        }
        statusBadge.replaceChildren(badge(data.status));
        announce(`Execution ${data.status}${data.step_id ? ` at step ${data.step_id}` : ""}`);
        event(name, `${data.status}${data.step_id ? ` (${data.step_id})` : ""}`, at);
        break;
      case "complete":
        event(name, data.status, at);
        announce(`Execution ${data.status}`);
        getExecution(executionId).then((current) => { view = current; applyView(current); })
          .catch((error) => outcome.append(errorBox(error)));
        break;
      default: break; // heartbeat
    }
  }, { onError: (status, body) => timeline.append(h("li", { class: "error" }, `stream refused: ${status} ${(body && body.message) || ""}`)) });
  return stop;
}
