// Approvals inbox: the pending requests, what the approver needs to decide, approve / reject.
// Only a listed approver gets the buttons; the API still decides who may (403) and when (409).
import { decideApproval, getExecution, listApprovals } from "./api.js";
import { announce, badge, errorBox, h, json, when } from "./dom.js";

function card(approval, identity, reload) {
  const mine = approval.approvers.includes(identity.subject);
  const outcome = h("div", { class: "decision-outcome", "aria-live": "polite" });
  const context = h("div", { class: "context" }, h("p", {}, "Loading the run's data…"));
  const id = `approval-${approval.approval_id}`;
  const parts = [
    h("h3", { id: `${id}-title` }, `${approval.workflow_id} · ${approval.step_id}`),
    h("p", { class: "message" }, approval.message),
    h("dl", { class: "facts" },
      h("dt", {}, "Execution"), h("dd", {}, h("a", { href: `#/executions/${encodeURIComponent(approval.execution_id)}` },
        approval.execution_id.split(":")[1])),
      h("dt", {}, "Approvers"), h("dd", {}, approval.approvers.join(", ")),
      h("dt", {}, "Requested"), h("dd", {}, when(approval.requested_at)),
      h("dt", {}, "Expires"), h("dd", {}, when(approval.expires_at)),
      h("dt", {}, "Status"), h("dd", {}, badge(approval.status))),
    h("details", { open: true }, h("summary", {}, "Data of the run so far"), context),
  ];
  if (approval.status === "pending" && mine) {
    const comment = h("textarea", { id: `${id}-comment`, rows: "2", name: "comment" });
    const buttons = [];
    const decide = (decision) => async () => {
      outcome.replaceChildren();
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const decided = await decideApproval(approval.approval_id, decision, comment.value);
        outcome.replaceChildren(h("p", { class: "notice", role: "status" }, `${decided.decision} by ${decided.approver}.`));
        announce(`Request ${decided.decision}`);
        setTimeout(reload, 1500);
      } catch (error) {
        outcome.replaceChildren(errorBox(error, "The API refused the decision"));
        buttons.forEach((b) => { b.disabled = false; });
      }
    };
    buttons.push(h("button", { type: "button", class: "primary approve", onclick: decide("approved") }, "Approve"),
      h("button", { type: "button", class: "danger reject", onclick: decide("rejected") }, "Reject"));
    parts.push(h("div", { class: "decide" }, h("label", { for: `${id}-comment` }, "Comment (optional)"), comment,
      h("div", { class: "actions" }, buttons)));
  } else if (approval.status === "pending") {
    parts.push(h("p", { class: "notice not-approver" },
      `You (${identity.subject}) are not a listed approver of this request: only ${approval.approvers.join(" or ")} can decide it.`));
  }
  parts.push(outcome);
  getExecution(approval.execution_id).then((view) => {
    const done = view.steps.filter((s) => s.status === "completed" && s.result !== null);
    context.replaceChildren(done.length ? h("dl", {}, done.flatMap((s) => [h("dt", {}, s.step_id), h("dd", {}, h("pre", {}, json(s.result)))]))
      : h("p", {}, "No step output yet."));
  }).catch((error) => context.replaceChildren(errorBox(error)));
  return h("article", { class: "approval", id, "aria-labelledby": `${id}-title`, "data-approval-id": approval.approval_id,
    "data-execution-id": approval.execution_id }, parts);
}

export async function approvalsView({ main, identity }) {
  const list = h("div", { id: "approvals" });

  async function load() {
    let answer;
    try {
      answer = await listApprovals("pending");
    } catch (error) {
      list.replaceChildren(errorBox(error));
      return;
    }
    const mine = answer.approvals.filter((a) => a.approvers.includes(identity.subject));
    const others = answer.approvals.filter((a) => !a.approvers.includes(identity.subject));
    list.replaceChildren(
      h("section", {}, h("h2", {}, `Waiting for you (${mine.length})`),
        mine.length ? mine.map((a) => card(a, identity, load)) : h("p", {}, "Nothing waits for your decision.")),
      others.length ? h("section", {}, h("h2", {}, `Waiting for others (${others.length})`),
        others.map((a) => card(a, identity, load))) : "");
  }

  main.replaceChildren(h("h1", {}, "Approvals"),
    h("p", {}, `Pending human approvals. Decisions are made as ${identity.subject}, the identity the API verified.`),
    h("button", { type: "button", id: "refresh", onclick: load }, "Refresh"), list);
  await load();
}
