// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, and the
// long-lived token must never travel in a URL. Parses the text/event-stream format (WHATWG HTML
// "Server-sent events", §9.2.6) and reconnects with Last-Event-ID, as EventSource would.
import { apiUrl } from "./api.js";
import { getToken } from "./auth.js";

/**
 * Split a chunk of event-stream text into events. `state` carries the partial line and event
 * between chunks. Returns [{event, data, id}] for every event completed by this chunk.
 */
export function parseChunk(state, text) {
  const events = [];
  state.buffer = (state.buffer || "") + text;
  const lines = state.buffer.split(/\r\n|\r|\n/);
  state.buffer = lines.pop(); // the last piece may be a partial line
  state.current = state.current || { event: "", data: [], id: null };
  for (const line of lines) {
    if (line === "") {
      const cur = state.current;
      if (cur.data.length) events.push({ event: cur.event || "message", data: cur.data.join("\n"), id: cur.id });
      if (cur.id !== null) state.lastId = cur.id;
      state.current = { event: "", data: [], id: null };
      continue;
    }
    if (line.startsWith(":")) continue; // a comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") state.current.event = value;
    else if (field === "data") state.current.data.push(value);
    else if (field === "id" && !value.includes("\0")) state.current.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) state.retry = Number(value);
  }
  return events;
}

/**
 * Follow an execution's stream. `onEvent(name, data, id)` gets every event; the stream ends
 * after `complete` or a 204; network failures reconnect with the last id. Returns a function
 * that stops following.
 */
export function follow(executionId, onEvent, { onError } = {}) {
  const controller = new AbortController();
  const state = { lastId: null, retry: 2000 };
  let done = false;
  const url = apiUrl(`api/executions/${encodeURIComponent(executionId)}/stream`);

  async function connect() {
    while (!done) {
      const headers = { Authorization: `Bearer ${getToken()}`, Accept: "text/event-stream" };
      if (state.lastId) headers["Last-Event-ID"] = state.lastId;
      try {
        const response = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 204) { done = true; return; }
        if (!response.ok) {
          let body = null;
          try { body = await response.json(); } catch { /* not JSON */ }
          done = true;
          if (onError) onError(response.status, body);
          return;
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        while (true) {
          const { value, done: ended } = await reader.read();
          if (ended) break;
          for (const item of parseChunk(state, value)) {
            let data = null;
            try { data = JSON.parse(item.data); } catch { data = item.data; }
            onEvent(item.event, data, item.id);
            if (item.event === "complete") { done = true; controller.abort(); return; }
          }
        }
      } catch (error) {
        if (done || controller.signal.aborted) return;
      }
      if (!done) await new Promise((resolve) => setTimeout(resolve, state.retry));
    }
  }

  connect();
  return () => { done = true; controller.abort(); };
}
