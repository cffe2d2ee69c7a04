// The console's only door to the server: the public /api routes with a bearer token (docs/api.md).
import { getToken, signOut } from "./auth.js";

/** An answer of the API that was not 2xx: its status and its {code, message, details}. */
export class ApiError extends Error {
  constructor(status, body) {
    const code = (body && body.code) || `HTTP_${status}`;
    const message = (body && body.message) || `the API answered ${status}`;
    super(message);
    this.status = status;
    this.code = code;
    this.details = body ? body.details : null;
  }

  /** One line a person can read: "403 FORBIDDEN: mallory@example.com is not an approver …". */
  describe() {
    return `${this.status} ${this.code}: ${this.message}`;
  }
}

/** The absolute URL of an API path, relative to the page (the deployed page lives under /v1/). */
export function apiUrl(path) {
  return new URL(path.replace(/^\//, ""), document.baseURI).toString();
}

/**
 * Call the API and return the parsed JSON body (or the text with `as: "text"`).
 * Throws ApiError for any non-2xx answer; a 401 also forgets the token.
 */
export async function api(path, { method = "GET", body, as = "json", signal } = {}) {
  const headers = { Authorization: `Bearer ${getToken()}` };
  const init = { method, headers, signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(apiUrl(path), init);
  if (!response.ok) {
    let parsed = null;
    try { parsed = await response.json(); } catch { /* not JSON */ }
    const error = new ApiError(response.status, parsed);
    if (response.status === 401) signOut({ reason: error.describe() });
    throw error;
  }
  return as === "text" ? response.text() : response.json();
}

export const me = () => api("api/me");
export const listWorkflows = () => api("api/workflows");
export const getWorkflow = (id) => api(`api/workflows/${encodeURIComponent(id)}`);
export const workflowGraph = (id) => api(`api/workflows/${encodeURIComponent(id)}/graph.svg`, { as: "text" });
export const execute = (id, bodyText) => api(`api/workflows/${encodeURIComponent(id)}/execute`, { method: "POST", body: bodyText });
export const getExecution = (id) => api(`api/executions/${encodeURIComponent(id)}`);
export const cancelExecution = (id) => api(`api/executions/${encodeURIComponent(id)}/cancel`, { method: "POST" });
export const listApprovals = (status = "pending") => api(`api/approvals?status=${encodeURIComponent(status)}`);
export const decideApproval = (id, decision, comment) =>
  api(`api/approvals/${encodeURIComponent(id)}`, { method: "POST", body: { decision, comment } });

export function listExecutions({ workflowId, status, limit = 20, nextToken } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (workflowId) query.set("workflow_id", workflowId);
  if (status) query.set("status", status);
  if (nextToken) query.set("next_token", nextToken);
  return api(`api/executions?${query}`);
}
