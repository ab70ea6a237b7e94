"""Server-side sessions in DynamoDB; the browser holds only an opaque id.

The cookie carries ``secrets.token_urlsafe(32)`` (256 bits); the table stores
``session#<sha256(id)>``, so a leaked table dump yields no usable cookie. Every
time is a number of epoch seconds. DynamoDB's TTL deletes late (moto never), so a
read checks expiry itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from chalicelib import dynamo
from chalicelib.config import Clock

SESSION_PREFIX = "session#"


@dataclass(frozen=True)
class NewSession:
    """What a verified login contributes to a session."""

    sub: str
    name: str | None
    email: str | None
    identity_provider: str
    access_token: str
    refresh_token: str
    access_expires_at: int


@dataclass(frozen=True)
class Session:
    key: str
    sub: str
    name: str | None
    email: str | None
    identity_provider: str
    access_token: str
    refresh_token: str
    access_expires_at: int
    created_at: int
    idle_expires_at: int
    absolute_expires_at: int
    refresh_lease_owner: str | None = None
    refresh_lease_until: int = 0

    @property
    def expires_at(self) -> int:
        return min(self.idle_expires_at, self.absolute_expires_at)


def session_key(session_id: str) -> str:
    return SESSION_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, dynamodb: Callable[[], Any], table: str, clock: Clock) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def create(
        self, new: NewSession, *, idle_timeout: int, absolute_timeout: int
    ) -> tuple[str, Session]:
        """Store a session under a fresh id (a new id at every login: no fixation)."""
        now = int(self._clock.now())
        session_id = secrets.token_urlsafe(32)
        absolute = now + absolute_timeout
        session = Session(
            **asdict(new),
            key=session_key(session_id),
            created_at=now,
            idle_expires_at=min(now + idle_timeout, absolute),
            absolute_expires_at=absolute,
        )
        dynamo.call(
            self._dynamodb().put_item,
            TableName=self._table,
            Item=dynamo.marshal(_to_item(session)),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return session_id, session

    def load(self, session_id: str) -> Session | None:
        """The live session for a cookie value, or None (expired counts as absent)."""
        return self._load_key(session_key(session_id))

    def reload(self, session: Session) -> Session | None:
        return self._load_key(session.key)

    def extend_idle(self, session: Session, idle_timeout: int) -> Session | None:
        """Slide the idle expiry, but only once less than half the window is left.

        Most warm reads therefore cost a single GetItem. None: the session was
        deleted meanwhile.
        """
        now = int(self._clock.now())
        if session.idle_expires_at - now >= idle_timeout / 2:
            return session
        idle = min(now + idle_timeout, session.absolute_expires_at)
        try:
            dynamo.call(
                self._dynamodb().update_item,
                TableName=self._table,
                Key={"pk": {"S": session.key}},
                UpdateExpression="SET idle_expires_at = :idle, expires_at = :exp",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=dynamo.marshal({":idle": idle, ":exp": idle}),
            )
        except dynamo.ConditionFailed:
            return None
        return replace(session, idle_expires_at=idle)

    def delete(self, session_id: str) -> Session | None:
        """Remove a session; returns what was stored, for revoking its token."""
        response = dynamo.call(
            self._dynamodb().delete_item,
            TableName=self._table,
            Key={"pk": {"S": session_key(session_id)}},
            ReturnValues="ALL_OLD",
        )
        old = response.get("Attributes")
        return _from_item(dynamo.unmarshal(old)) if old else None

    def acquire_refresh_lease(
        self, session: Session, *, lease_seconds: int
    ) -> str | None:
        """Claim the right to refresh; None if another request holds it or won.

        The condition on the access token stops a late request from
        refreshing again with a refresh token the winner has just rotated.
        """
        now = int(self._clock.now())
        owner = secrets.token_urlsafe(16)
        try:
            dynamo.call(
                self._dynamodb().update_item,
                TableName=self._table,
                Key={"pk": {"S": session.key}},
                UpdateExpression="SET refresh_lease_owner = :owner, "
                "refresh_lease_until = :until",
                ConditionExpression="attribute_exists(pk) "
                "AND access_token = :seen "
                "AND (attribute_not_exists(refresh_lease_until) "
                "OR refresh_lease_until < :now)",
                ExpressionAttributeValues=dynamo.marshal(
                    {
                        ":owner": owner,
                        ":until": now + lease_seconds,
                        ":seen": session.access_token,
                        ":now": now,
                    }
                ),
            )
        except dynamo.ConditionFailed:
            return None
        return owner

    def save_refreshed(
        self,
        session: Session,
        *,
        lease_owner: str,
        access_token: str,
        access_expires_at: int,
        refresh_token: str,
        idle_timeout: int,
    ) -> Session | None:
        """Store refreshed tokens and release the lease.

        Never recreates a session deleted meanwhile (a logout in another tab):
        None in that case.
        """
        now = int(self._clock.now())
        idle = min(now + idle_timeout, session.absolute_expires_at)
        try:
            dynamo.call(
                self._dynamodb().update_item,
                TableName=self._table,
                Key={"pk": {"S": session.key}},
                UpdateExpression="SET access_token = :access, "
                "access_expires_at = :access_exp, refresh_token = :refresh, "
                "idle_expires_at = :idle, expires_at = :idle "
                "REMOVE refresh_lease_owner, refresh_lease_until",
                ConditionExpression="attribute_exists(pk) "
                "AND refresh_lease_owner = :owner",
                ExpressionAttributeValues=dynamo.marshal(
                    {
                        ":access": access_token,
                        ":access_exp": access_expires_at,
                        ":refresh": refresh_token,
                        ":idle": idle,
                        ":owner": lease_owner,
                    }
                ),
            )
        except dynamo.ConditionFailed:
            return None
        return replace(
            session,
            access_token=access_token,
            access_expires_at=access_expires_at,
            refresh_token=refresh_token,
            idle_expires_at=idle,
            refresh_lease_owner=None,
            refresh_lease_until=0,
        )

    def release_refresh_lease(self, session: Session, lease_owner: str) -> None:
        with contextlib.suppress(dynamo.ConditionFailed):
            dynamo.call(
                self._dynamodb().update_item,
                TableName=self._table,
                Key={"pk": {"S": session.key}},
                UpdateExpression="REMOVE refresh_lease_owner, refresh_lease_until",
                ConditionExpression="refresh_lease_owner = :owner",
                ExpressionAttributeValues=dynamo.marshal({":owner": lease_owner}),
            )

    def delete_key(self, session: Session) -> None:
        dynamo.call(
            self._dynamodb().delete_item,
            TableName=self._table,
            Key={"pk": {"S": session.key}},
        )

    def _load_key(self, key: str) -> Session | None:
        response = dynamo.call(
            self._dynamodb().get_item,
            TableName=self._table,
            Key={"pk": {"S": key}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        if not raw:
            return None
        session = _from_item(dynamo.unmarshal(raw))
        if session is None or session.expires_at <= self._clock.now():
            return None
        return session


def _to_item(session: Session) -> dict[str, str | int | None]:
    return {
        "pk": session.key,
        "sub": session.sub,
        "name": session.name,
        "email": session.email,
        "identity_provider": session.identity_provider,
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "access_expires_at": session.access_expires_at,
        "created_at": session.created_at,
        "idle_expires_at": session.idle_expires_at,
        "absolute_expires_at": session.absolute_expires_at,
        "expires_at": session.expires_at,
    }


def _from_item(item: dynamo.Item) -> Session | None:
    """A session from a stored item; None for an item of another shape."""
    try:
        return Session(
            key=_text(item, "pk"),
            sub=_text(item, "sub"),
            name=_optional_text(item, "name"),
            email=_optional_text(item, "email"),
            identity_provider=_text(item, "identity_provider"),
            access_token=_text(item, "access_token"),
            refresh_token=_text(item, "refresh_token"),
            access_expires_at=_number(item, "access_expires_at"),
            created_at=_number(item, "created_at"),
            idle_expires_at=_number(item, "idle_expires_at"),
            absolute_expires_at=_number(item, "absolute_expires_at"),
            refresh_lease_owner=_optional_text(item, "refresh_lease_owner"),
            refresh_lease_until=int(item.get("refresh_lease_until", 0)),
        )
    except (KeyError, TypeError):
        return None


def _text(item: dynamo.Item, name: str) -> str:
    value = item[name]
    if not isinstance(value, str):
        raise TypeError(name)
    return value


def _optional_text(item: dynamo.Item, name: str) -> str | None:
    return _text(item, name) if name in item else None


def _number(item: dynamo.Item, name: str) -> int:
    value = item[name]
    if not isinstance(value, int):
        raise TypeError(name)
    return value
