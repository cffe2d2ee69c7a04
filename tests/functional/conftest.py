"""Fixtures for functional tests: the real project on the local engine (moto, agents on loopback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from stepgraph import load_project
from stepgraph.local import LocalEngine

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def load_example():
    """Read an execution input kept in ``examples/``."""

    def load(name: str) -> dict:
        return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT)


@pytest.fixture(scope="module")
def engine(project, tmp_path_factory) -> Iterator[LocalEngine]:
    """One engine per module: starting agents costs about a second each."""
    with LocalEngine(project, results_dir=tmp_path_factory.mktemp("results")) as running:
        yield running


@pytest.fixture()
def results_queue(engine) -> str:
    """An SQS queue subscribed to the results topic (what a downstream consumer does); its URL."""
    sqs, sns = engine.client("sqs"), engine.client("sns")
    import uuid

    url = sqs.create_queue(QueueName=f"results-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=engine.topic_arn, Protocol="sqs", Endpoint=arn)
    return url


@pytest.fixture()
def drain(engine):
    """Take every SNS envelope waiting in a queue: ``drain(queue_url) -> list[dict]``."""
    sqs = engine.client("sqs")

    def take(queue_url: str) -> list[dict]:
        messages = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return take


@pytest.fixture()
def make_engine(tmp_path):
    """Build a throw-away project from workflow documents and run it: ``make_engine(*docs)``.

    The project shares the repository's ``lambdas/``, ``agents/`` and ``tools/``; the engine is
    closed at the end of the test.
    """
    from contextlib import ExitStack

    stack = ExitStack()

    def build(*documents: dict, **engine_options) -> LocalEngine:
        (tmp_path / "workflows").mkdir(exist_ok=True)
        for name in ("lambdas", "agents", "tools"):
            if (ROOT / name).exists() and not (tmp_path / name).exists():
                (tmp_path / name).symlink_to(ROOT / name)
        for document in documents:
            (tmp_path / "workflows" / f"{document['name']}.json").write_text(json.dumps(document), encoding="utf-8")
        return stack.enter_context(LocalEngine(load_project(tmp_path), **engine_options))

    yield build
    stack.close()
