"""Built-in tool ``lookup_order``: reads the demo order book shipped in ``tools/data/orders.json``."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import tool

__all__ = ("ORDERS_PATH", "load_order_book", "lookup_order")

#: The order book (same shape as ``agents/support_agent/data/orders.json``).
ORDERS_PATH = Path(__file__).resolve().parent / "data" / "orders.json"


@lru_cache(maxsize=4)
def load_order_book(path: Path = ORDERS_PATH) -> dict[str, Any]:
    """Read and cache an order book.

    Parameters
    ----------
    path : pathlib.Path, default ``ORDERS_PATH``
        A JSON file ``{"currency", "customers": {customer_id: {"name", "orders": [...]}}}``.

    Returns
    -------
    dict
        The parsed document (callers must not modify it; ``lookup_order`` returns copies).

    Raises
    ------
    OSError
        When the file cannot be read.
    ValueError
        When it is not JSON.
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _id(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip().lower()


def _orders_of(customers: dict[str, Any], customer_id: str, currency: Any) -> list[dict[str, Any]]:
    wanted = _id("customer_id", customer_id)
    if wanted is None:
        raise ValueError("customer ids must be non-empty strings, got None")
    for cid, customer in customers.items():
        if cid.lower() == wanted:
            return [{**copy.deepcopy(order), "customer_id": cid, "currency": currency} for order in customer.get("orders", [])]
    raise LookupError(f"unknown customer_id {customer_id!r}")


@tool(description="Look up an order by order_id, or the orders of one or more customers by customer_id(s)")
def lookup_order(
    order_id: str | None = None, customer_id: str | None = None, customer_ids: list[str] | None = None
) -> dict[str, Any] | list[dict[str, Any]]:
    """Look up an order by ``order_id``, or the orders of customers by ``customer_id`` or ``customer_ids``.

    Ids are matched case-insensitively (``ord-1001`` finds ``ORD-1001``). Every order returned
    carries its ``customer_id`` and the book's ``currency``.

    Parameters
    ----------
    order_id : str, optional
        An order id such as ``"ORD-1001"``.
    customer_id : str, optional
        A customer id such as ``"cust-1001"``. With ``order_id`` too, the order must belong to
        that customer.
    customer_ids : list of str, optional
        Several customer ids (not with the other two); their orders are returned in one list.

    Returns
    -------
    dict or list of dict
        With ``order_id``: the order. With ``customer_id`` or ``customer_ids``: the list of the
        customers' orders, in the order the customers are given and the book lists them.

    Raises
    ------
    ValueError
        When no id is given, ``customer_ids`` is combined with another id, or an id is not a
        non-empty string.
    LookupError
        When an order or a customer is unknown, or the order belongs to another customer.

    Examples
    --------
    >>> lookup_order(order_id="ORD-1002")["status"]
    'shipped'
    >>> [o["order_id"] for o in lookup_order(customer_id="cust-1002")]
    ['ORD-2001', 'ORD-2002']
    """
    book = load_order_book()
    currency = book.get("currency")
    customers: dict[str, Any] = book.get("customers", {})
    if customer_ids is not None:
        if order_id is not None or customer_id is not None:
            raise ValueError("give customer_ids alone, not with order_id or customer_id")
        if not isinstance(customer_ids, list):
            raise ValueError(f"customer_ids must be a list of customer ids, got {type(customer_ids).__name__}")
        return [order for cid in customer_ids for order in _orders_of(customers, cid, currency)]
    wanted_order = _id("order_id", order_id)
    wanted_customer = _id("customer_id", customer_id)
    if wanted_order is None and wanted_customer is None:
        raise ValueError("give order_id, customer_id or customer_ids")
    if wanted_order is None:
        return _orders_of(customers, customer_id, currency)  # type: ignore[arg-type]
    for cid, customer in customers.items():
        for order in customer.get("orders", []):
            if str(order.get("order_id", "")).lower() == wanted_order:
                if wanted_customer is not None and cid.lower() != wanted_customer:
                    raise LookupError(f"order {order_id!r} does not belong to customer {customer_id!r}")
                return {**copy.deepcopy(order), "customer_id": cid, "currency": currency}
    raise LookupError(f"unknown order_id {order_id!r}")
