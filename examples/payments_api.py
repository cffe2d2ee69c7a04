"""A stand-in payments API on 127.0.0.1:8787 for the refund-approval example.

Run it beside ``stepgraph run workflows/refund-approval.json``::

    python examples/payments_api.py &
    stepgraph run workflows/refund-approval.json --input examples/refund-approval.input.json --approve

``POST /refunds`` answers ``201 {"refund_id", "order_id", "amount", "status": "issued"}``; the
same ``Idempotency-Key`` gets the same refund back, as a real payments API would do.
"""

from __future__ import annotations

import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REFUNDS: dict[str, dict] = {}


class PaymentsHandler(BaseHTTPRequestHandler):
    """``POST /refunds`` only."""

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path != "/refunds" or "order_id" not in body:
            self.send_response(400 if self.path == "/refunds" else 404)
            self.end_headers()
            return
        key = self.headers.get("Idempotency-Key") or json.dumps(body, sort_keys=True)
        refund = REFUNDS.setdefault(key, {
            "refund_id": "rf_" + hashlib.sha256(key.encode()).hexdigest()[:12],
            "order_id": body["order_id"], "amount": body.get("amount"), "status": "issued",
        })
        payload = json.dumps(refund).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve(port: int = 8787) -> ThreadingHTTPServer:
    """Create the server on 127.0.0.1 (not started)."""
    return ThreadingHTTPServer(("127.0.0.1", port), PaymentsHandler)


if __name__ == "__main__":
    server = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8787)
    print(f"payments API on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
