"""Agent folder skeletons (``agents/<id>/``) for agents an imported document defined inline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AgentSkeleton"]

#: Same pin as ``agents/support_agent/requirements.txt``: the AgentCore app the runtime serves.
_REQUIREMENTS = "# Runtime dependencies of this agent; add your model client here (pinned).\nbedrock-agentcore==1.25.0\n"

_DOCKERFILE = """\
# AgentCore Runtime container (HTTP protocol: POST /invocations, GET /ping on 8080), linux/arm64.
FROM --platform=linux/arm64 python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install --only-binary=:all: -r requirements.txt

RUN useradd --uid 1000 --no-create-home --shell /usr/sbin/nologin agent
COPY --chown=agent:agent main.py ./

# BedrockAgentCoreApp binds 0.0.0.0 (instead of 127.0.0.1) only when this is set.
ENV DOCKER_CONTAINER=1 \\
    PORT=8080
EXPOSE 8080
USER agent

CMD ["python", "main.py"]
"""

_MAIN = '''\
"""{display}: converted from an elevAIte agent definition; a stand-in until you write the agent."""

from __future__ import annotations

import os

from bedrock_agentcore import BedrockAgentCoreApp

#: What the elevAIte document said about this agent (its model ran inside elevAIte's engine).
AGENT_NAME = {name!r}
SYSTEM_PROMPT = {system_prompt!r}
ELEVAITE_MODEL = {model!r}
ELEVAITE_TOOLS = {tools!r}

app = BedrockAgentCoreApp()


@app.entrypoint
def invoke(payload, context):
    """Answer one step. ``payload`` is the step's rendered ``payload``: ``query``, ``system_prompt``
    (when the workflow sets one) and the step's mapped inputs.

    TODO: call your model here (Amazon Bedrock, say, with ``SYSTEM_PROMPT`` and ``payload["query"]``)
    and return its answer under ``response``. Until then this stand-in echoes the query, so the
    converted workflow runs end to end.
    """
    query = payload.get("query") or ""
    return {{
        "response": f"[{{AGENT_NAME}} stand-in] {{query}}",
        "query": query,
        "agent_name": AGENT_NAME,
        "success": True,
    }}


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", 8080)))
'''


@dataclass
class AgentSkeleton:
    """An ``agents/<agent_id>/`` folder to write for an agent defined inline in an imported document.

    Attributes
    ----------
    agent_id:
        Folder name, ``[a-zA-Z][a-zA-Z0-9_]{0,47}`` (the runtime name rule, :data:`stepgraph.agents.AGENT_ID_PATTERN`).
    display_name:
        The agent's name in the source document.
    system_prompt:
        Its system prompt, when the document gave one.
    model:
        ``{"provider", "model_name", "temperature", "max_tokens"}`` as far as the document said.
    tools:
        Names of the tools the source agent could call.
    steps:
        Ids (in the converted workflow) of the steps that call it.
    """

    agent_id: str
    display_name: str
    system_prompt: str | None = None
    model: dict = field(default_factory=dict)
    tools: list = field(default_factory=list)
    steps: list = field(default_factory=list)

    def files(self) -> dict[str, str]:
        """The folder's files: ``{relative name: text}`` (Dockerfile, main.py, agent.json, requirements.txt)."""
        agent_json = {
            "description": f"Converted from the elevAIte agent '{self.display_name}' (steps: {', '.join(self.steps)}); "
                           "main.py is a stand-in to replace with the real agent.",
            "kind": "python",
        }
        main = _MAIN.format(display=self.display_name, name=self.display_name, system_prompt=self.system_prompt,
                            model=self.model, tools=self.tools)
        return {
            "Dockerfile": _DOCKERFILE,
            "main.py": main,
            "agent.json": json.dumps(agent_json, indent=2) + "\n",
            "requirements.txt": _REQUIREMENTS,
        }

    def write(self, agents_dir: Path, *, overwrite: bool = False) -> list[Path]:
        """Write the folder under ``agents_dir``; an existing ``agents/<id>/`` is left alone unless ``overwrite``.

        Returns
        -------
        list[Path]
            The files written (empty when the folder existed and was kept).
        """
        folder = agents_dir / self.agent_id
        if folder.exists() and not overwrite:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self.files().items():
            (folder / name).write_text(text, encoding="utf-8")
            written.append(folder / name)
        return written
