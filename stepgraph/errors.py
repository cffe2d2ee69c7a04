"""Error codes shared by validation, the compiled state machines and the Lambda handlers.

The codes are the ``Error`` names that ``Retry``/``Catch`` match in the compiled Amazon States
Language and the ``error.code`` of a failed result record (SPEC §7). They are defined once, in
:mod:`stepgraph_runtime.errors`, beside the exception classes the Lambda handlers raise (whose
*class name* is the code); this module re-exports them for the core.
"""

from __future__ import annotations

from stepgraph_runtime.errors import RETRYABLE_BY_DEFAULT, ErrorCode

__all__ = ["ErrorCode", "RETRYABLE_BY_DEFAULT"]
