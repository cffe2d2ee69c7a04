"""A small Server-Sent Events reader for the API tests (what a browser's EventSource does)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterator

import httpx


@dataclass
class Event:
    """One received event and the monotonic time it arrived."""

    event: str
    id: str | None
    data: Any
    received: float


def read_events(response: httpx.Response) -> Iterator[Event]:
    """Parse an open ``text/event-stream`` response into events, as they arrive."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data or fields:
                text = "\n".join(data)
                try:
                    value = json.loads(text)
                except ValueError:
                    value = text
                yield Event(fields.get("event", "message"), fields.get("id"), value, time.monotonic())
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value


def follow(client: httpx.Client, execution_id: str, *, last_event_id: str | None = None, stop_after: int | None = None,
           timeout: float = 60.0) -> list[Event]:
    """Open the execution's stream and collect events until it ends (or ``stop_after`` events, then hang up)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[Event] = []
    with client.stream("GET", f"/api/executions/{execution_id}/stream", headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in read_events(response):
            events.append(event)
            if stop_after is not None and len(events) >= stop_after:
                break
    return events
