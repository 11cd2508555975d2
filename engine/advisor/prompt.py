"""The chat messages sent to the model, and the strict reading of answers.

Every question is two messages: a system message that explains the task
and the exact JSON answer expected, and a user message whose content is
the question as compact JSON. The modelled backend reads the question
back from the same messages (:func:`question_data`), so a simulation sends
exactly what a live run sends.

Answers are read strictly: the whole text, less surrounding white space,
must be one JSON object of the documented shape (no prose, no code
fences, no repeated keys, no ``NaN``), and an assignment must then pass
:func:`~engine.advisor.heuristic.violation` against the question. Anything
else raises :class:`AnswerRejected` and is never applied.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Literal

from engine.advisor.heuristic import Estimates, violation
from engine.errors import EngineError, InvalidRequestError

if TYPE_CHECKING:
    from engine.advisor.question import AssignmentQuestion
    from engine.model import Location, Plan, Request

Messages = list[dict[str, str]]
"""Chat messages: dicts with a ``role`` and a ``content``."""

Verdict = Literal["accept", "reject"]

ASSIGN_SYSTEM = """\
You advise the dispatcher of a last-mile delivery fleet. Each order is \
picked up at its pickup and carried to its delivery by one driver.
The question is JSON. For each order, "drivers" lists every candidate \
driver with arrive_in_s (seconds until it reaches the pickup) and \
finish_in_s (seconds until it would finish the delivery going straight \
there); null means it cannot get there. "drivers" at the top level gives \
each driver's free_capacity and shift_left_s (null: no shift end).
Rules: a driver may take several orders only if their quantities together \
fit its free_capacity, and only orders whose finish_in_s is at most its \
shift_left_s. Prefer drivers that reach the pickup early, and answer \
null for an order no driver should take.
Answer with one JSON object and nothing else, naming every order exactly \
once:
{"assignments": [{"order": "<order id>", "driver": "<driver id>"}, ...]}
where "driver" may be null."""
"""The system message of an assignment question."""

REVIEW_SYSTEM = """\
You review a delivery plan made by a route optimiser for a last-mile \
fleet. The question is JSON: each route lists a vehicle's stops in order \
(pickups and deliveries, with arrival times and lateness in seconds), and \
"unassigned" the orders left out, with the reason. You cannot change the \
plan: say whether the dispatcher should accept it as it is.
Answer with one JSON object and nothing else:
{"verdict": "accept" or "reject", "reason": "<one short sentence>"}"""
"""The system message of a plan review."""


class AnswerRejected(EngineError):
    """A model's answer that is malformed or breaks the question's rules.

    Parameters
    ----------
    reason
        What is wrong, in words.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"answer rejected: {reason}")


def _number(value: float) -> float | None:
    """``value`` for JSON: ``None`` where it is infinite."""
    return value if math.isfinite(value) else None


def _point(location: Location) -> list[float]:
    return [location.x, location.y]


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def assign_messages(
    question: AssignmentQuestion, estimates: Estimates
) -> Messages:
    """The messages that ask ``question``, with its ``estimates``."""
    places = {location.id: location for location in question.locations}
    now = question.now
    orders = [
        {
            "id": order.id,
            "quantity": order.quantity,
            "pickup": _point(places[order.pickup]),
            "delivery": _point(places[order.delivery]),
            "ready_in_s": order.ready_time - now,
            "due_in_s": _number(order.due_time - now),
            "drivers": [
                {
                    "id": driver,
                    "arrive_in_s": _number(estimates.arrive[o][c]),
                    "finish_in_s": _number(estimates.finish[o][c]),
                }
                for c, driver in enumerate(estimates.driver_ids)
            ],
        }
        for o, order in enumerate(question.orders)
    ]
    drivers = [
        {
            "id": candidate.driver_id,
            "at": _point(candidate.location),
            "free_capacity": candidate.free_capacity,
            "shift_left_s": _number(estimates.shift_left[c]),
        }
        for c, candidate in enumerate(question.candidates)
    ]
    content = {"task": "assign", "orders": orders, "drivers": drivers}
    return [
        {"role": "system", "content": ASSIGN_SYSTEM},
        {"role": "user", "content": _dumps(content)},
    ]


def review_messages(request: Request, plan: Plan) -> Messages:
    """The messages that ask for a second opinion on ``plan``."""
    places = request.location_index
    orders = {order.id: order for order in request.orders}
    routes = [
        {
            "vehicle": route.vehicle_id,
            "travel_s": route.travel_time,
            "stops": [
                {
                    "order": stop.order_id,
                    "kind": stop.kind.value,
                    "at": _point(request.locations[places[stop.location_id]]),
                    "arrive_s": stop.arrival,
                    "due_s": _number(orders[stop.order_id].due_time),
                    "late_s": stop.late,
                }
                for stop in route.stops
            ],
        }
        for route in plan.routes
    ]
    unassigned = [
        {"order": item.order_id, "reason": item.reason.value}
        for item in plan.unassigned
    ]
    content = {"task": "review", "routes": routes, "unassigned": unassigned}
    return [
        {"role": "system", "content": REVIEW_SYSTEM},
        {"role": "user", "content": _dumps(content)},
    ]


def _reject_constant(name: str) -> Any:
    raise AnswerRejected(f"{name} is not a JSON number")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise AnswerRejected(f"key {key!r} is repeated")
        data[key] = value
    return data


def _json_object(text: str, keys: set[str]) -> dict[str, Any]:
    """``text`` as a JSON object with exactly ``keys``."""
    try:
        data = json.loads(
            text.strip(),
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_pairs,
        )
    except json.JSONDecodeError as error:
        raise AnswerRejected(f"not JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise AnswerRejected("the answer is not a JSON object")
    if set(data) != keys:
        raise AnswerRejected(
            f"keys {sorted(data)} are not exactly {sorted(keys)}"
        )
    return data


def parse_assignments(
    text: str, estimates: Estimates
) -> dict[str, str | None]:
    """The assignments in the model's ``text``, checked against the
    question's ``estimates``; raises :class:`AnswerRejected`."""
    items = _json_object(text, {"assignments"})["assignments"]
    if not isinstance(items, list):
        raise AnswerRejected('"assignments" is not a list')

    answer: dict[str, str | None] = {}
    for k, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"order", "driver"}:
            raise AnswerRejected(
                f'assignments[{k}] is not {{"order": ..., "driver": ...}}'
            )
        order, driver = item["order"], item["driver"]
        if not isinstance(order, str):
            raise AnswerRejected(f"assignments[{k}].order is not a string")
        if driver is not None and not isinstance(driver, str):
            raise AnswerRejected(
                f"assignments[{k}].driver is neither a string nor null"
            )
        if order in answer:
            raise AnswerRejected(f"order {order!r} is answered twice")
        answer[order] = driver

    problem = violation(estimates, answer)
    if problem is not None:
        raise AnswerRejected(problem)
    return answer


def parse_review(text: str) -> tuple[Verdict, str]:
    """The verdict and reason in the model's ``text``; raises
    :class:`AnswerRejected`."""
    data = _json_object(text, {"verdict", "reason"})
    verdict, reason = data["verdict"], data["reason"]
    if verdict not in ("accept", "reject"):
        raise AnswerRejected(f'verdict {verdict!r} is not "accept"/"reject"')
    if not isinstance(reason, str):
        raise AnswerRejected("reason is not a string")
    return verdict, reason


def question_data(messages: Messages) -> dict[str, Any]:
    """The question in the last user message, as sent by
    :func:`assign_messages` or :func:`review_messages`.

    Raises :class:`~engine.errors.InvalidRequestError` when the messages
    hold no question of either kind.
    """
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        raise InvalidRequestError("messages", messages, "need a user message")
    content = users[-1].get("content")
    try:
        data = json.loads(content) if isinstance(content, str) else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("task") not in (
        "assign",
        "review",
    ):
        raise InvalidRequestError(
            "messages[-1].content",
            content,
            'must be a JSON question with "task": "assign" or "review"',
        )
    return data


def _inf(value: Any) -> float:
    return math.inf if value is None else float(value)


def estimates_from_data(data: dict[str, Any]) -> Estimates:
    """The :class:`Estimates` of an assignment question read back by
    :func:`question_data`."""
    try:
        orders = data["orders"]
        drivers = data["drivers"]
        ids = [driver["id"] for driver in drivers]
        return Estimates(
            order_ids=tuple(order["id"] for order in orders),
            quantities=tuple(int(order["quantity"]) for order in orders),
            driver_ids=tuple(ids),
            free_capacity=tuple(int(d["free_capacity"]) for d in drivers),
            shift_left=tuple(_inf(d["shift_left_s"]) for d in drivers),
            arrive=tuple(
                _row(order["drivers"], ids, "arrive_in_s") for order in orders
            ),
            finish=tuple(
                _row(order["drivers"], ids, "finish_in_s") for order in orders
            ),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidRequestError(
            "messages[-1].content", data, f"is not an assign question: {error}"
        ) from None


def _row(
    entries: list[dict[str, Any]], ids: list[str], key: str
) -> tuple[float, ...]:
    by_id = {entry["id"]: _inf(entry[key]) for entry in entries}
    return tuple(by_id[driver] for driver in ids)
