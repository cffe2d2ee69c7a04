"""``sized_payload``: a value of a chosen size, for data-volume tests and benchmarks (``docs/performance.md``)."""

from __future__ import annotations

from typing import Any

from . import tool

#: Largest payload the tool makes: 1 MiB of characters (beyond that, offloading to S3 is tested as well).
MAX_PAYLOAD_BYTES = 1024 * 1024


@tool(description="Return {tag, data} where data is size_bytes characters of 'x' (a synthetic large output)")
def sized_payload(tag: str, size_bytes: int) -> dict[str, Any]:
    """A synthetic step output of a known size.

    Parameters
    ----------
    tag:
        A small field returned as it is, for later steps to read.
    size_bytes:
        Length of ``data`` in characters (ASCII, so also in bytes), 0 to 1 MiB.

    Returns
    -------
    dict
        ``{"tag": tag, "data": "xxx…"}``.

    Raises
    ------
    ValueError
        When ``size_bytes`` is not an integer from 0 to 1,048,576.
    """
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or not 0 <= size_bytes <= MAX_PAYLOAD_BYTES:
        raise ValueError(f"size_bytes must be an integer from 0 to {MAX_PAYLOAD_BYTES}, not {size_bytes!r}")
    return {"tag": str(tag), "data": "x" * size_bytes}
