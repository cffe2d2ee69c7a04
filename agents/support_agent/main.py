"""Customer-support agent for AgentCore Runtime that answers order questions from a local order book."""

from __future__ import annotations

import json
import logging
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from bedrock_agentcore import BedrockAgentCoreApp

from stepgraph_runtime.async_agent import async_step

DATA_PATH = Path(__file__).resolve().parent / "data" / "orders.json"

ORDER_STATUS = "order_status"
REFUND = "refund"
CANCEL = "cancel"
GREETING = "greeting"
OTHER = "other"

#: Keyword rules, checked in this order; the first intent with a matching rule wins.
INTENT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (CANCEL, re.compile(r"\bcancel\w*\b|\bcall (it|this|that) off\b|\bdon'?t want (it|this|that) anymore\b", re.I)),
    (
        REFUND,
        re.compile(
            r"\brefund\w*\b|\breturn(s|ed|ing)?\b|\bmoney back\b|\bsend (it|this|that) back\b|\bexchange\b"
            r"|\bbroken\b|\bdamaged\b|\bdefective\b|\bwrong (item|size|colou?r)\b",
            re.I,
        ),
    ),
    (
        ORDER_STATUS,
        re.compile(
            r"\bwhere\b|\bstatus\b|\btrack\w*\b|\bship\w*\b|\bdeliver\w*\b|\barriv\w*\b|\bpackage\b|\bparcel\b"
            r"|\beta\b|\bwhen will\b|\border(s|ed)?\b",
            re.I,
        ),
    ),
    (GREETING, re.compile(r"^\W*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening))\b", re.I)),
)
THANKS = re.compile(r"^\W*(thanks|thank you|thx|cheers)\b", re.I)
HUMAN_REQUEST = re.compile(
    r"\b(human|real person|representative|manager|supervisor|complain\w*|speak to (an? )?agent)\b", re.I
)
ORDER_ID = re.compile(r"\bORD-?(\d{3,})\b", re.I)
OPEN_STATUSES = ("processing", "shipped")
#: Words that ask where a parcel is: a shipped order is then the better guess than one still being prepared.
IN_TRANSIT_QUESTION = re.compile(
    r"\bwhere\b|\btrack\w*\b|\barriv\w*\b|\bpackage\b|\bparcel\b|\beta\b|\bwhen will\b", re.I
)

logger = logging.getLogger("support_agent")
app = BedrockAgentCoreApp()


@lru_cache(maxsize=1)
def load_order_book(path: str = str(DATA_PATH)) -> dict[str, Any]:
    """Load the order book once.

    Parameters
    ----------
    path : str, default ``data/orders.json`` next to this file
        JSON file with ``{"customers": {<customer_id>: {"name", "email", "orders": [...]}}}``.

    Returns
    -------
    dict
        The parsed order book.
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _text_of(content: Any) -> str:
    """Return the text of a chat message's content (a string or Bedrock-style ``[{"text": ...}]``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            _text_of(part.get("text", "")) if isinstance(part, dict) else _text_of(part) for part in content
        )
    return "" if content is None else str(content)


def parse_request(payload: Any) -> dict[str, Any]:
    """Extract the chat request from a payload.

    Two shapes are accepted: the platform default ``{"input": <execution input>, "steps": {...},
    "step_id": ..., "max_iterations": ...}`` whose input holds ``trigger.current_message``,
    ``trigger.history``, ``user_id`` and ``context.customer_id``; and a flat payload
    ``{"message", "customer_id", "history"?, "user_id"?}`` (a rendered ``parameters.payload``).
    A bare string is taken as the message.

    Parameters
    ----------
    payload : Any
        The ``/invocations`` body.

    Returns
    -------
    dict
        ``{"message": str, "history": [{"role", "content"}], "customer_id": str | None, "stream": bool}``.
    """
    if isinstance(payload, str):
        return {"message": payload, "history": [], "customer_id": None, "stream": False}
    if not isinstance(payload, dict):
        return {"message": "", "history": [], "customer_id": None, "stream": False}

    source = payload.get("input") if isinstance(payload.get("input"), dict) else payload
    trigger = source.get("trigger") if isinstance(source.get("trigger"), dict) else {}
    context = source.get("context") if isinstance(source.get("context"), dict) else {}
    message = (
        trigger.get("current_message")
        or trigger.get("message")
        or source.get("message")
        or source.get("current_message")
        or source.get("prompt")
        or ""
    )
    history = trigger.get("history") or source.get("history") or []
    customer_id = context.get("customer_id") or source.get("customer_id") or source.get("user_id")
    return {
        "message": _text_of(message).strip(),
        "history": [turn for turn in history if isinstance(turn, dict)] if isinstance(history, list) else [],
        "customer_id": str(customer_id).strip() if customer_id else None,
        "stream": payload.get("stream") is True,
    }


def classify_intent(message: str) -> str:
    """Classify a message with the keyword rules in ``INTENT_RULES``.

    Parameters
    ----------
    message : str
        The customer's message.

    Returns
    -------
    str
        ``"cancel"``, ``"refund"``, ``"order_status"``, ``"greeting"`` or ``"other"``.
    """
    for intent, rule in INTENT_RULES:
        if rule.search(message):
            return intent
    return OTHER


def order_ids_in(text: str) -> list[str]:
    """Return the order ids (normalised to ``ORD-<digits>``) mentioned in a text, in order of appearance."""
    seen: list[str] = []
    for match in ORDER_ID.finditer(text):
        order_id = f"ORD-{match.group(1)}"
        if order_id not in seen:
            seen.append(order_id)
    return seen


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


def _label(order: dict[str, Any]) -> str:
    return f"{order['order_id']} ({order['item']}, {_money(order['total'])})"


def _by_recency(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(orders, key=lambda order: order.get("ordered_at", ""), reverse=True)


def _first(orders: list[dict[str, Any]], statuses: tuple[str, ...]) -> dict[str, Any] | None:
    return next((order for order in _by_recency(orders) if order["status"] in statuses), None)


def _tracking(order: dict[str, Any]) -> str:
    if order.get("carrier") and order.get("tracking_number"):
        return f"{order['carrier']}, tracking number {order['tracking_number']}"
    return order.get("carrier", "")


def describe_status(order: dict[str, Any]) -> str:
    """Return one or two sentences stating an order's status with its concrete facts."""
    status = order["status"]
    if status == "processing":
        text = f"Your order {_label(order)}, placed on {order['ordered_at']}, is being prepared and hasn't shipped yet."
        if order.get("ships_by"):
            text += f" It is expected to ship by {order['ships_by']}."
        return text
    if status == "shipped":
        text = f"Your order {_label(order)} shipped on {order['shipped_at']} with {_tracking(order)}."
        if order.get("estimated_delivery"):
            text += f" It should arrive by {order['estimated_delivery']}."
        return text
    if status == "delivered":
        return f"Your order {_label(order)} was delivered on {order['delivered_at']} ({_tracking(order)})."
    if status == "refunded":
        return (
            f"Your order {_label(order)} was refunded on {order['refunded_at']}: "
            f"{_money(order['total'])} went back to your original payment method."
        )
    return f"Your order {_label(order)} is currently {status}."


def _answer_refund(order: dict[str, Any], customer: dict[str, Any], book: dict[str, Any]) -> tuple[str, bool]:
    status = order["status"]
    window = book.get("return_window_days", 30)
    if status == "delivered":
        until = f" and can be returned until {order['returnable_until']}" if order.get("returnable_until") else ""
        return (
            f"I'm sorry it didn't work out. {_label(order)} was delivered on {order['delivered_at']}{until}. "
            f"I've passed your request to our returns team: they will email a prepaid return label to "
            f"{customer['email']}, and the {_money(order['total'])} refund is issued as soon as the item is back.",
            True,
        )
    if status == "shipped":
        return (
            f"{_label(order)} is still on its way ({_tracking(order)}), expected by "
            f"{order.get('estimated_delivery', 'the next few days')}. Once it arrives you can return it within "
            f"{window} days for a full refund of {_money(order['total'])}.",
            False,
        )
    if status == "processing":
        return (
            f"{_label(order)} hasn't shipped yet, so instead of a return you can simply cancel it for a full refund "
            f"of {_money(order['total'])}. Just reply \"cancel {order['order_id']}\" and I'll arrange it.",
            False,
        )
    if status == "refunded":
        return (
            f"Good news: {_label(order)} was already refunded on {order['refunded_at']}. The "
            f"{_money(order['total'])} went back to your original payment method; banks usually take 5-10 "
            "business days to show it.",
            False,
        )
    return f"{_label(order)} is {status}, so I've asked a colleague to look at your refund request.", True


def _answer_cancel(order: dict[str, Any], customer: dict[str, Any], book: dict[str, Any]) -> tuple[str, bool]:
    status = order["status"]
    window = book.get("return_window_days", 30)
    if status == "processing":
        return (
            f"{_label(order)} hasn't shipped yet, so it can still be cancelled. I've asked our fulfilment team to "
            f"cancel it; you'll get a confirmation at {customer['email']} and a full refund of "
            f"{_money(order['total'])}.",
            True,
        )
    if status == "shipped":
        return (
            f"I'm sorry, {_label(order)} already shipped on {order['shipped_at']} ({_tracking(order)}), so it can't "
            f"be cancelled anymore. Once it arrives you can return it within {window} days for a full refund.",
            False,
        )
    if status == "delivered":
        until = f" until {order['returnable_until']}" if order.get("returnable_until") else f" within {window} days"
        return (
            f"{_label(order)} was already delivered on {order['delivered_at']}, so it can't be cancelled, "
            f"but you can return it{until} for a refund of {_money(order['total'])}.",
            False,
        )
    if status == "refunded":
        return (
            f"{_label(order)} was already refunded on {order['refunded_at']}; there is nothing left to cancel.",
            False,
        )
    return f"{_label(order)} is {status}; I've asked a colleague to check whether it can still be cancelled.", True


def _summary(orders: list[dict[str, Any]]) -> str:
    return "; ".join(f"{order['order_id']} ({order['item']}, {order['status']})" for order in _by_recency(orders))


def answer(message: str, history: list[dict[str, Any]], customer_id: str | None) -> dict[str, Any]:
    """Answer one customer message.

    The intent comes from the message's keywords; a message without any (e.g. just an order id)
    inherits the intent of the customer's latest earlier message that had one. The order is the
    one named in the message, else the latest one named in the history, else the best match for
    the intent: the most recent shipped order for "where is / tracking" questions, the most recent
    open order for other status questions, delivered for refunds, processing for cancellations.

    Parameters
    ----------
    message : str
        The customer's current message.
    history : list of dict
        Earlier turns, oldest first, each ``{"role": "user"|"assistant", "content": ...}``.
    customer_id : str or None
        The customer's id in the order book.

    Returns
    -------
    dict
        ``{"response": str, "intent": str, "customer_id": str | None, "order_ids": [str],
        "escalate": bool}``.
    """
    book = load_order_book()
    intent = classify_intent(message)
    mentioned = order_ids_in(message)
    if intent in (OTHER, GREETING) and not HUMAN_REQUEST.search(message) and not THANKS.search(message):
        earlier = [classify_intent(_text_of(turn.get("content"))) for turn in history if turn.get("role") == "user"]
        inherited = next((i for i in reversed(earlier) if i in (CANCEL, REFUND, ORDER_STATUS)), None)
        if mentioned or (inherited and intent == OTHER):
            intent = inherited or ORDER_STATUS

    customer = book["customers"].get(customer_id or "") or book["customers"].get((customer_id or "").lower())
    if customer is None:
        about = f" about {', '.join(mentioned)}" if mentioned else ""
        return {
            "response": (
                f"I'm happy to help{about}, but I couldn't find an account matching your details. "
                "Could you share your order id (it looks like ORD-1234) and the email address you ordered with?"
            ),
            "intent": intent,
            "customer_id": customer_id,
            "order_ids": mentioned,
            "escalate": False,
        }

    orders = customer["orders"]
    owned = {order["order_id"]: order for order in orders}
    first_name = customer["name"].split()[0]

    if HUMAN_REQUEST.search(message):
        return {
            "response": (
                f"Of course, {first_name}. I'm handing this conversation to a member of our support team; "
                f"they can see your orders ({_summary(orders)}) and will reply at {customer['email']}."
            ),
            "intent": intent,
            "customer_id": customer_id,
            "order_ids": [order_id for order_id in mentioned if order_id in owned],
            "escalate": True,
        }

    unknown = [order_id for order_id in mentioned if order_id not in owned]
    if unknown and not any(order_id in owned for order_id in mentioned):
        return {
            "response": (
                f"I couldn't find {', '.join(unknown)} on your account, {first_name}. "
                f"The orders I can see are: {_summary(orders)}. Could you double-check the order id?"
            ),
            "intent": intent,
            "customer_id": customer_id,
            "order_ids": [],
            "escalate": False,
        }

    if intent == OTHER and THANKS.search(message) and not mentioned:
        return {
            "response": f"You're welcome, {first_name}! Is there anything else I can help you with?",
            "intent": GREETING,
            "customer_id": customer_id,
            "order_ids": [],
            "escalate": False,
        }

    if intent == GREETING:
        return {
            "response": (
                f"Hi {first_name}! I can see {len(orders)} orders on your account: {_summary(orders)}. "
                "How can I help you today?"
            ),
            "intent": intent,
            "customer_id": customer_id,
            "order_ids": [order["order_id"] for order in _by_recency(orders)],
            "escalate": False,
        }

    selected = [owned[order_id] for order_id in mentioned if order_id in owned]
    if not selected:
        for turn in reversed(history):
            earlier_ids = [order_id for order_id in order_ids_in(_text_of(turn.get("content"))) if order_id in owned]
            if earlier_ids:
                selected = [owned[earlier_ids[0]]]
                break
    if not selected:
        preferred = {
            ORDER_STATUS: OPEN_STATUSES,
            REFUND: ("delivered",),
            CANCEL: ("processing",),
            OTHER: OPEN_STATUSES,
        }[intent]
        if intent == ORDER_STATUS and IN_TRANSIT_QUESTION.search(message):
            preferred = ("shipped",)
        fallback = _first(orders, preferred) or _first(orders, OPEN_STATUSES) or _by_recency(orders)[0]
        selected = [fallback]

    escalate = False
    if intent == ORDER_STATUS:
        text = " ".join(describe_status(order) for order in selected)
        if len(selected) == 1 and len(orders) > 1 and not mentioned:
            others = [order for order in orders if order is not selected[0]]
            text += f" You also have {_summary(others)}."
    elif intent == REFUND:
        text, escalate = _answer_refund(selected[0], customer, book)
        selected = selected[:1]
    elif intent == CANCEL:
        text, escalate = _answer_cancel(selected[0], customer, book)
        selected = selected[:1]
    else:
        text = (
            f"Sorry {first_name}, I'm not sure I understood. I can help with order status and tracking, returns and "
            f"refunds, or cancelling an order. For reference: {describe_status(selected[0])}"
        )
    return {
        "response": text,
        "intent": intent,
        "customer_id": customer_id,
        "order_ids": [order["order_id"] for order in selected],
        "escalate": escalate,
    }


def stream_answer(result: dict[str, Any], words_per_chunk: int = 6) -> Iterator[dict[str, Any]]:
    """Yield an answer as server-sent events: ``{"delta": <text>}`` chunks, then ``{"final": result}``.

    The deltas joined with no separator equal ``result["response"]``.

    Parameters
    ----------
    result : dict
        The answer from ``answer``.
    words_per_chunk : int, default 6
        Words per ``delta`` event.

    Yields
    ------
    dict
        ``{"delta": str}`` events, then one ``{"final": dict}`` event.
    """
    words = re.findall(r"\S+\s*", result["response"])
    for start in range(0, len(words), words_per_chunk):
        yield {"delta": "".join(words[start : start + words_per_chunk])}
    yield {"final": result}


@app.entrypoint
@async_step(app)
def invoke(payload: Any, context: Any = None) -> dict[str, Any] | Iterator[dict[str, Any]]:
    """AgentCore entrypoint: answer the customer's current message.

    An async step (``"mode": "async"``; the payload carries ``stepgraph.task_token``) is
    answered at once and worked on as an AgentCore async task by
    :func:`stepgraph_runtime.async_agent.async_step`, which sends the result with
    ``SendTaskSuccess``; any other request is answered as before.

    Parameters
    ----------
    payload : Any
        See ``parse_request``; ``"stream": true`` asks for a streamed answer.
    context : bedrock_agentcore.RequestContext, optional
        Request context (session id); only logged.

    Returns
    -------
    dict or iterator of dict
        ``{"response", "intent", "customer_id", "order_ids", "escalate"}``, or with ``stream`` a
        generator of ``{"delta"}`` events ending with ``{"final": <that dict>}`` (served as
        ``text/event-stream``).
    """
    request = parse_request(payload)
    result = answer(request["message"], request["history"], request["customer_id"])
    logger.info(
        "answered intent=%s customer=%s orders=%s escalate=%s session=%s",
        result["intent"],
        result["customer_id"],
        result["order_ids"],
        result["escalate"],
        getattr(context, "session_id", None),
    )
    if request["stream"]:
        return stream_answer(result)
    return result


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "8080")))
