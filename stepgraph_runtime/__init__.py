"""What the Lambda handlers share, deployed and locally: errors, result records, offload, agent answers, the address guard.

Standard library only, except :mod:`stepgraph_runtime.agentcore` and :mod:`stepgraph_runtime.offload`,
which import boto3/botocore lazily (inside the functions that call AWS), so the pure modules
(``errors``, ``records``, ``env``, ``net``, ``sessions``, ``streams``) stay importable by the core
without boto3. The stacks copy this package into every function's asset; ``pip install`` puts it
beside ``stepgraph``.
"""

__all__ = ["agentcore", "env", "errors", "net", "offload", "records", "sessions", "streams"]
