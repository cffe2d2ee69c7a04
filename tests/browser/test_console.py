"""The web console in a real (headless) Chromium: run a workflow and watch it live, decide an approval, see a failure."""

from __future__ import annotations

import json

import pytest
from conftest import CFO, DEV, FINANCE, IMAGES, MALLORY

pytestmark = pytest.mark.browser


def _edit_input(page, change) -> None:
    editor = page.get_by_label("Input (the execute request, JSON)")
    document = json.loads(editor.input_value())
    change(document)
    editor.fill(json.dumps(document, indent=2))


def _execution_id(page) -> str:
    page.wait_for_url("**/#/executions/*")
    return page.url.split("#/executions/")[1].replace("%3A", ":")


def test_run_customer_support_shows_every_step_completed_live_without_reloading(signed_in, api):
    page = signed_in(DEV, "#/workflows")
    page.get_by_role("link", name="customer-support").click()
    page.get_by_role("heading", name="customer-support").wait_for()
    editor = page.get_by_label("Input (the execute request, JSON)")
    example = json.loads((IMAGES.parents[1] / "examples" / "customer-support.input.json").read_text(encoding="utf-8"))
    assert json.loads(editor.input_value()) == example
    page.locator('#graph svg g.node[data-step-id="agent"]').wait_for()
    assert page.get_by_text("support-followup").is_visible()  # the chained workflow
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "console-workflow.png"), full_page=True)

    page.evaluate("window.__notReloaded = true")
    editor.focus()
    page.keyboard.press("Tab")  # the Run button is next, and a real button
    page.keyboard.press("Enter")
    execution_id = _execution_id(page)
    page.locator("#execution-status .status-completed").wait_for()
    page.locator("#result").wait_for()
    assert page.evaluate("window.__notReloaded") is True

    with api.client() as client:
        view = client.get(f"/api/executions/{execution_id}").json()
    assert view["status"] == "completed"
    ran = [s["step_id"] for s in view["steps"]]
    assert "agent" in ran and "reply" in ran
    for step_id in ran:
        assert page.locator(f'#step-states li[data-step-id="{step_id}"]').get_attribute("data-state") == "completed", step_id
        assert page.locator(f'#graph g.node[data-step-id="{step_id}"]').get_attribute("data-state") == "completed", step_id
    assert json.loads(page.locator("#result").text_content()) == view["result"]
    assert page.locator('#timeline li[data-event="step_complete"]').count() >= len(ran)
    assert page.locator('#timeline li[data-event="complete"]').count() == 1

    # the executions list filters by status and links back to the execution
    page.goto(f"{api.url}/#/executions?status=completed")
    link = page.get_by_role("link", name=execution_id.split(":")[1])
    link.wait_for()
    assert page.locator("tbody .badge").all_text_contents() == ["completed"] * page.locator("tbody tr").count()
    link.click()
    page.get_by_role("heading", name=f"Execution {execution_id.split(':')[1]}").wait_for()


def test_streamed_agent_text_appears_while_the_step_runs(signed_in, api):
    document = {"name": "console-stream", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["talk"]},
        {"step_id": "talk", "step_type": "agent_execution", "parameters": {"agent_id": "slow_streamer", "timeout_seconds": 60}}]}
    with api.client() as client:
        assert client.post("/api/workflows", json=document).status_code == 201
    page = signed_in(DEV, "#/workflows/console-stream")
    page.get_by_role("button", name="Run").click()
    _execution_id(page)
    delta = page.locator('#step-talk pre.delta')
    page.locator("#step-talk pre.delta", has_text="word1").wait_for()
    assert page.locator('#step-states li[data-step-id="talk"]').get_attribute("data-state") == "running"
    page.locator("#execution-status .status-completed").wait_for()
    assert delta.text_content().split() == [f"word{i}" for i in range(6)]  # the fixture's six words


def test_refund_approval_decided_in_another_context_completes_live(signed_in, api):
    requester = signed_in(DEV, "#/workflows/refund-approval")
    _edit_input(requester, lambda d: d.update({"context": {"payments_url": api.payments_url}}))
    requester.get_by_role("button", name="Run").click()
    execution_id = _execution_id(requester)
    requester.locator('#step-states li[data-step-id="finance_approval"][data-state="waiting"]').wait_for()
    requester.locator('#graph g.node[data-step-id="finance_approval"][data-state="waiting"]').wait_for()
    requester.get_by_role("link", name="open the approvals inbox").wait_for()
    requester.screenshot(path=str(IMAGES / "console-execution.png"), full_page=True)

    card = f'article[data-execution-id="{execution_id}"]'
    mallory = signed_in(MALLORY, "#/approvals")
    mallory.locator(card).wait_for()
    assert mallory.locator(f"{card} button").count() == 0
    assert "not a listed approver" in mallory.locator(f"{card} .not-approver").text_content()
    approval_id = mallory.locator(card).get_attribute("data-approval-id")
    forced = mallory.evaluate("""async (id) => {
        const api = await import('./console/api.js');
        try { await api.decideApproval(id, 'approved', 'let me'); return 'accepted'; }
        catch (error) { return error.describe(); } }""", approval_id)
    assert forced == "403 FORBIDDEN: mallory@example.com is not an approver of this request"

    cfo = signed_in(CFO, "#/approvals")  # opened before finance decides: it still has the buttons
    cfo.locator(f"{card} button.approve").wait_for()
    assert "ORD-1001" in cfo.locator(f"{card} .message").text_content()

    finance = signed_in(FINANCE, "#/approvals")
    finance.locator(f"{card} textarea").fill("fine by me")
    finance.locator(f"{card} button.approve").click()
    finance.get_by_text("approved by finance@example.com.").wait_for()

    requester.locator("#execution-status .status-completed").wait_for()
    requester.locator('#step-states li[data-step-id="refunded"][data-state="completed"]').wait_for()
    result = json.loads(requester.locator("#result").text_content())
    assert result["approved_by"] == "finance@example.com" and result["refunded"] is True

    cfo.locator(f"{card} button.approve").click()
    alert = cfo.locator(f"{card} [role=alert]")
    alert.wait_for()
    assert alert.text_content().startswith("The API refused the decision: 409 CONFLICT")


def test_failing_run_shows_the_failed_step_its_code_and_message(signed_in, api):
    page = signed_in(DEV, "#/workflows/refund-approval")
    _edit_input(page, lambda d: d.update({"order_id": "ORD-0000", "context": {"payments_url": api.payments_url}}))
    page.get_by_role("button", name="Run").click()
    execution_id = _execution_id(page)
    page.locator("#execution-status .status-failed").wait_for()
    with api.client() as client:
        error = client.get(f"/api/executions/{execution_id}").json()["error"]
    assert error["step"] == "order"
    page.locator('#step-states li[data-step-id="order"][data-state="failed"]').wait_for()
    assert page.locator('#graph g.node[data-step-id="order"]').get_attribute("data-state") == "failed"
    assert page.locator("#execution-error .error-code").text_content() == error["code"]
    assert error["message"] and error["message"] in page.locator("#execution-error").text_content()
    step_error = page.locator("#step-order .step-error .error").last
    assert step_error.locator(".error-code").text_content() == error["code"]


def test_invalid_json_and_refused_input_show_the_message(signed_in):
    page = signed_in(DEV, "#/workflows/customer-support")
    editor = page.get_by_label("Input (the execute request, JSON)")
    editor.fill("{not json")
    page.get_by_role("button", name="Run").click()
    assert page.locator("#run-problems [role=alert]").text_content().startswith("The input is not valid JSON")
    editor.fill(json.dumps({"trigger": "not an object"}))
    page.get_by_role("button", name="Run").click()
    alert = page.locator("#run-problems [role=alert]")
    alert.get_by_text("400 VALIDATION_ERROR").wait_for()
    assert "/#/workflows/customer-support" in page.url  # nothing started


def test_unknown_token_is_refused_and_the_token_stays_in_the_tab(browser, api):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{api.url}/")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").get_by_text("401 UNAUTHENTICATED: unknown bearer token").wait_for()
    page.get_by_label("API token").fill(DEV)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as dev@example.com").wait_for()
    assert page.evaluate("sessionStorage.getItem('stepgraph.token')") == DEV
    assert page.evaluate("localStorage.length") == 0 and DEV not in page.evaluate("document.cookie")
    other = context.new_page()  # another tab of the same browser: signed out
    other.goto(f"{api.url}/")
    other.get_by_label("API token").wait_for()
    context.close()


def test_narrow_screen_has_no_sideways_scrolling(signed_in):
    page = signed_in(DEV, "#/workflows/refund-approval", viewport=(390, 844))
    page.locator('#graph svg g.node[data-step-id="refund"]').wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.get_by_role("button", name="Run").is_visible()


def test_pkce_helpers_follow_rfc_7636(signed_in):
    page = signed_in(DEV)
    answer = page.evaluate("""async () => {
        const auth = await import('./console/auth.js');
        const verifier = auth.newVerifier();
        const url = new URL(auth.authorizeUrl({authorize_url: 'https://example.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
            client_id: 'client123', scopes: 'openid email'}, {challenge: 'abc', state: 's1', redirect: 'https://api.example/v1/'}));
        return {
            octets: auth.base64url(new Uint8Array([116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
                22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121])),
            example: await auth.challengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
            verifier, fresh: auth.newVerifier(), params: Object.fromEntries(url.searchParams),
        };
    }""")
    # RFC 7636 appendix B: the octets' verifier and its S256 challenge
    assert answer["octets"] == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert answer["example"] == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert len(answer["verifier"]) == 43 and answer["verifier"] != answer["fresh"]
    assert answer["params"] == {"response_type": "code", "client_id": "client123", "redirect_uri": "https://api.example/v1/",
                                "scope": "openid email", "state": "s1", "code_challenge": "abc", "code_challenge_method": "S256"}
