"""Nova Act agent comparing one product's price across shops, one browser session per shop in threads.

The Nova Act SDK's other pattern (FIELD-NOTES "Nova Act"): a plain ``with Workflow(...)`` (one
workflow run, ``CreateWorkflowRun`` on enter, ``UpdateWorkflowRun`` on exit) and several
``NovaAct`` browser sessions, each in its own thread and each given ``workflow=`` explicitly — a
plain ``with Workflow`` does not set the ContextVar ``@workflow`` uses, and Workflow objects cannot
be pickled, so threads, not processes. Each session opens its shop, searches the product and
reads the price with ``act_get`` against :data:`PRICE_SCHEMA`; the output names the cheapest.

Served by ``BedrockAgentCoreApp``; meant for an async step (``"mode": "async"``), since browsing
two shops can outlast a synchronous request: :func:`stepgraph_runtime.async_agent.async_step`
answers at once and ends the step with the result. Without the SDK or any credentials it fails
at once (``AGENT_ERROR``) naming what is missing, before a browser starts.

Payload: ``{"product": "...", "sites": [{"name", "url"}, {"name", "url"}]}`` (2 to 4 sites), at the
top level or under ``input`` (the default step payload).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import botocore.session
from bedrock_agentcore import BedrockAgentCoreApp

from stepgraph_runtime.async_agent import async_step

MODEL_ID = "nova-act-latest"
#: Nova Act's workflow definitions live in us-east-1 (FIELD-NOTES "Nova Act").
NOVA_ACT_REGION = "us-east-1"
DEFINITION_ENV = "NOVA_ACT_WORKFLOW_DEFINITION_NAME"
DEFAULT_DEFINITION = "price-compare-workflow"
API_KEY_ENV = "NOVA_ACT_API_KEY"
MAX_SITES = 4
#: What each browser session must return.
PRICE_SCHEMA = {"type": "object", "properties": {"price": {"type": "number"}, "currency": {"type": "string"},
                                                 "title": {"type": "string"}}, "required": ["price"]}
MISSING_SDK = "the Nova Act SDK (Python package nova-act) is not installed: add nova-act==3.4.187.0 to requirements.txt"
MISSING_CREDENTIALS = ("no credentials for Nova Act: deployed, the runtime's IAM role provides them; locally set "
                       f"{API_KEY_ENV} or AWS credentials in the agent's environment")

logger = logging.getLogger("price_compare")
app = BedrockAgentCoreApp()


class NovaActSetupError(RuntimeError):
    """The SDK or the credentials are missing; the message names each problem."""

    def __init__(self, *problems: str):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Site:
    """One shop to search."""

    name: str
    url: str


@dataclass(frozen=True)
class Comparison:
    """A validated request."""

    product: str
    sites: tuple[Site, ...]


def parse_request(payload: Any) -> Comparison:
    """Validate the payload.

    Raises
    ------
    ValueError
        When ``product`` is missing or ``sites`` is not a list of 2 to 4 ``{"name", "url"}`` with https URLs.
    """
    source = payload.get("input") if isinstance(payload, dict) and isinstance(payload.get("input"), dict) else payload
    if not isinstance(source, dict):
        raise ValueError("the price_compare agent needs a JSON object payload: {\"product\", \"sites\": [{\"name\", \"url\"}, ...]}")
    product = source.get("product")
    if not isinstance(product, str) or not product.strip():
        raise ValueError("the price_compare agent needs 'product' (the product to look up) in its payload")
    raw_sites = source.get("sites")
    if not isinstance(raw_sites, list) or not 2 <= len(raw_sites) <= MAX_SITES:
        raise ValueError(f"'sites' must be a list of 2 to {MAX_SITES} shops, each {{\"name\", \"url\"}}")
    sites = []
    for index, site in enumerate(raw_sites):
        if not isinstance(site, dict) or not isinstance(site.get("url"), str) or not site["url"].startswith("https://"):
            raise ValueError(f"sites[{index}] must be {{\"name\", \"url\"}} with an https:// url")
        sites.append(Site(name=str(site.get("name") or site["url"]), url=site["url"]))
    return Comparison(product=product.strip(), sites=tuple(sites))


def sdk_installed() -> bool:
    """True when the ``nova_act`` package can be imported."""
    return importlib.util.find_spec("nova_act") is not None


def workflow_arguments() -> dict[str, Any]:
    """The ``Workflow(...)`` keyword arguments; :class:`NovaActSetupError` naming what is missing.

    The API key (``NOVA_ACT_API_KEY``) or, else, AWS credentials through a us-east-1 botocore
    session; nothing is contacted to find out.
    """
    problems = [] if sdk_installed() else [MISSING_SDK]
    arguments: dict[str, Any] = {"model_id": MODEL_ID,
                                 "workflow_definition_name": os.environ.get(DEFINITION_ENV, DEFAULT_DEFINITION)}
    key = (os.environ.get(API_KEY_ENV) or "").strip()
    if key:
        arguments["nova_act_api_key"] = key
    else:
        session = botocore.session.get_session()
        session.set_config_variable("region", NOVA_ACT_REGION)
        if session.get_credentials() is None:
            problems.append(MISSING_CREDENTIALS)
        arguments["boto_session_kwargs"] = {"botocore_session": session, "region_name": NOVA_ACT_REGION}
    if problems:
        raise NovaActSetupError(*problems)
    return arguments


def price_at(sdk: Any, workflow: Any, site: Site, product: str) -> dict[str, Any]:
    """One browser session (its own thread): open the shop, find the product, read its price."""
    with sdk.NovaAct(starting_page=site.url, headless=True, tty=False, workflow=workflow) as nova:
        result = nova.act_get(f"Search for '{product}' and return the price of the best matching product",
                              schema=PRICE_SCHEMA)
    parsed = result.parsed_response if isinstance(result.parsed_response, dict) else {}
    return {"site": site.name, "url": site.url, "price": parsed.get("price"), "currency": parsed.get("currency"),
            "title": parsed.get("title"), "steps_taken": result.metadata.num_steps_executed}


def compare(request: Comparison, sdk: Any, arguments: dict[str, Any],
            session: Callable[[Any, Any, Site, str], dict[str, Any]] = price_at) -> dict[str, Any]:
    """Run one Nova Act workflow with one browser session per site, in parallel threads.

    Returns
    -------
    dict
        ``{"product", "offers": [{"site", "url", "price", "currency", "title", "steps_taken"} | {"site", "url", "error"}],
        "cheapest": <the offer with the lowest price, or None>, "workflow_run_id"}``. A site that
        failed is an offer with ``error``; the comparison fails only when every site did.
    """
    with sdk.Workflow(**arguments) as workflow:
        with ThreadPoolExecutor(max_workers=len(request.sites), thread_name_prefix="nova-act") as pool:
            futures = [pool.submit(session, sdk, workflow, site, request.product) for site in request.sites]
            offers = []
            for site, future in zip(request.sites, futures):
                try:
                    offers.append(future.result())
                except Exception as exc:  # noqa: BLE001 - one shop failing still leaves a comparison
                    logger.warning("site %s failed: %s", site.name, exc)
                    offers.append({"site": site.name, "url": site.url, "error": f"{type(exc).__name__}: {exc}"})
        run_id = getattr(workflow, "workflow_run_id", None)
    priced = [o for o in offers if isinstance(o.get("price"), (int, float))]
    if not priced and all("error" in o for o in offers):
        raise RuntimeError("every site failed: " + "; ".join(f"{o['site']}: {o['error']}" for o in offers))
    cheapest = min(priced, key=lambda o: o["price"]) if priced else None
    return {"product": request.product, "offers": offers, "cheapest": cheapest, "workflow_run_id": run_id}


@app.entrypoint
@async_step(app)
def invoke(payload: Any) -> dict[str, Any]:
    """AgentCore entrypoint: validate, check the SDK and credentials, then compare (see :func:`compare`)."""
    request = parse_request(payload)
    arguments = workflow_arguments()
    return compare(request, importlib.import_module("nova_act"), arguments)


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "8080")))
