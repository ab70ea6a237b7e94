"""Login transactions: what a login needs between the redirect and the callback.

Stored under ``txn#<sha256(state)>`` in the sessions table for ten minutes and
bound to the browser that started the login by a random value in an HttpOnly
cookie (kept across logins, so two tabs never clobber each other's login).
Consumed with one conditional DeleteItem, so a state is single-use even when two
containers receive the same callback (RFC 9700 section 4.7, RFC 6749 section
10.12).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib import dynamo
from chalicelib.config import Clock
from chalicelib.errors import InvalidState

TRANSACTION_PREFIX = "txn#"
TRANSACTION_LIFETIME_SECONDS = 600


@dataclass(frozen=True)
class LoginTransaction:
    binding_hash: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    flow: str
    return_to: str
    identity_provider: str
    expires_at: int


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class TransactionStore:
    def __init__(self, dynamodb: Callable[[], Any], table: str, clock: Clock) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def expiry(self) -> int:
        return int(self._clock.now()) + TRANSACTION_LIFETIME_SECONDS

    def save(self, state: str, transaction: LoginTransaction) -> None:
        item: dict[str, str | int | None] = {
            "pk": TRANSACTION_PREFIX + digest(state),
            "binding_hash": transaction.binding_hash,
            "nonce": transaction.nonce,
            "code_verifier": transaction.code_verifier,
            "redirect_uri": transaction.redirect_uri,
            "flow": transaction.flow,
            "return_to": transaction.return_to,
            "identity_provider": transaction.identity_provider,
            "expires_at": transaction.expires_at,
        }
        dynamo.call(
            self._dynamodb().put_item,
            TableName=self._table,
            Item=dynamo.marshal(item),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def consume(self, state: str, binding: str | None) -> LoginTransaction:
        """Delete and return the transaction for ``state``; any doubt is a 400.

        Deleted first, checked after: a state seen once is gone whatever the
        outcome, so a stolen or replayed state cannot be tried twice.
        """
        if not state or len(state) > 512:
            raise InvalidState()
        try:
            response = dynamo.call(
                self._dynamodb().delete_item,
                TableName=self._table,
                Key={"pk": {"S": TRANSACTION_PREFIX + digest(state)}},
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except dynamo.ConditionFailed:
            raise InvalidState() from None
        transaction = _from_item(dynamo.unmarshal(response.get("Attributes", {})))
        if transaction is None or transaction.expires_at <= self._clock.now():
            raise InvalidState()
        if binding is None or not hmac.compare_digest(
            transaction.binding_hash, digest(binding)
        ):
            raise InvalidState()
        return transaction


def _from_item(item: dynamo.Item) -> LoginTransaction | None:
    try:
        values = {
            name: item[name]
            for name in (
                "binding_hash",
                "nonce",
                "code_verifier",
                "redirect_uri",
                "flow",
                "return_to",
                "identity_provider",
            )
        }
        expires_at = item["expires_at"]
    except KeyError:
        return None
    if not all(isinstance(value, str) for value in values.values()):
        return None
    if not isinstance(expires_at, int):
        return None
    return LoginTransaction(
        binding_hash=str(values["binding_hash"]),
        nonce=str(values["nonce"]),
        code_verifier=str(values["code_verifier"]),
        redirect_uri=str(values["redirect_uri"]),
        flow=str(values["flow"]),
        return_to=str(values["return_to"]),
        identity_provider=str(values["identity_provider"]),
        expires_at=expires_at,
    )
