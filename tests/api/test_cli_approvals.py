"""``stepgraph approvals approve|reject`` decide through the API, as the identity of the caller's token."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import FINANCE, MALLORY, wait_for_status
from stepgraph.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_cli_decides_as_the_token_identity_and_refuses_a_non_approver(api, refund_input):
    with api.client(FINANCE) as client:
        execution_id = client.post("/api/workflows/refund-approval/execute", json=refund_input).json()["execution_id"]
        wait_for_status(client, execution_id, {"waiting"})
        (approval,) = [a for a in client.get("/api/approvals").json()["approvals"] if a["execution_id"] == execution_id]
        base = ["--api", api.url]
        refused = runner.invoke(app, ["approvals", "approve", approval["approval_id"], *base,
                                      "--token", MALLORY.split()[1], "--comment", "sure"])
        approved = runner.invoke(app, ["approvals", "approve", approval["approval_id"], *base,
                                       "--token", FINANCE.split()[1], "--json"])
        done = wait_for_status(client, execution_id, {"completed"})
    assert refused.exit_code == 1 and "FORBIDDEN" in refused.stderr and "mallory@example.com" in refused.stderr
    assert approved.exit_code == 0, approved.stderr
    assert '"approver": "finance@example.com"' in approved.stdout and '"approver_verified_by": "token"' in approved.stdout
    assert done["result"]["approved_by"] == "finance@example.com"
