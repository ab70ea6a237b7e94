"""DynamoDB plumbing shared by the session and login-transaction stores.

Both live in one table (hash key ``pk``, TTL attribute ``expires_at``). Items
hold only strings and whole numbers; times are epoch seconds as numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.errors import SessionStoreUnavailable

logger = logging.getLogger(__name__)

Item = dict[str, str | int]


class ConditionFailed(Exception):
    """A conditional write found the item missing or changed."""


def call(operation: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """Run one DynamoDB call; throttling or an outage becomes a 503."""
    try:
        return operation(**kwargs)
    except Exception as exc:
        code = _error_code(exc)
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed() from None
        logger.error("session store call failed: %s", code or type(exc).__name__)
        raise SessionStoreUnavailable() from None


def marshal(item: Mapping[str, str | int | None]) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {}
    for name, value in item.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"{name}: only strings and whole numbers are stored")
        values[name] = {"S": value} if isinstance(value, str) else {"N": str(value)}
    return values


def unmarshal(raw: Mapping[str, Mapping[str, str]]) -> Item:
    item: Item = {}
    for name, value in raw.items():
        if "S" in value:
            item[name] = value["S"]
        elif "N" in value:
            item[name] = int(float(value["N"]))
    return item


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
