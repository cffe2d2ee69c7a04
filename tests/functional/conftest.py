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
