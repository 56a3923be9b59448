"""Reviewer accounts of a project, their login links and their browser sessions.

A reviewer belongs to one project: a link or a session of project B never opens project A's server, even when both
projects share a database. Tokens and session ids are random (``secrets.token_urlsafe``) and stored only as SHA-256
hashes. Nothing about a session is cached in the process: every request reads it from the database (one indexed
query), so a revocation (``labelwise review --revoke NAME``, from any process) ends that reviewer's sessions at their
next request in every server process.

Lifetimes (:class:`SessionPolicy`): a session ends after ``idle`` without a request or ``max_age`` after its login,
whichever comes first; a login link ``max_age`` after it was issued (None: never) and, when single-use, at its first
use. :meth:`Accounts.prune` deletes what can never work again, so sessions and links do not pile up.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Optional

from labelwise.errors import LabelwiseError, ParameterError
from labelwise.review.database import Database, now
from labelwise.review.schema import BrowserSession, LoginLink, Reviewer

# SQLAlchemy after labelwise.review.database, which turns its absence into a MissingExtraError
from sqlalchemy import and_, delete, insert, or_, select, update

MAX_NAME = 200  # characters of a reviewer's name
MAX_TOKEN = 100  # characters of a login token or session id as sent by a browser (ours have 32 and 43)
LINK_MAX_AGE = _dt.timedelta(days=7)
TOUCH_EVERY = _dt.timedelta(seconds=60)  # how stale a session's last use may be in the database


@dataclass(frozen=True)
class SessionPolicy:
    """How long a browser session lasts: ``idle`` without a request, ``max_age`` after login (None: no limit)."""

    idle: Optional[_dt.timedelta] = _dt.timedelta(hours=12)
    max_age: Optional[_dt.timedelta] = _dt.timedelta(days=7)

    def expired(self, created: _dt.datetime, last_seen: _dt.datetime, at: _dt.datetime) -> bool:
        return ((self.max_age is not None and at - _aware(created) > self.max_age)
                or (self.idle is not None and at - _aware(last_seen) > self.idle))

    def touch_every(self) -> _dt.timedelta:
        """How often a session's last use is written: at most once a minute, often enough for the idle limit."""
        return min(TOUCH_EVERY, self.idle / 4) if self.idle is not None else TOUCH_EVERY


class Accounts(Database):
    """The accounts part of :class:`labelwise.review.store.ReviewStore`."""

    def issue_token(self, project_id: int, name: str, *, max_age: Optional[_dt.timedelta] = LINK_MAX_AGE,
                    single_use: bool = False) -> str:
        """A new login token for reviewer ``name`` of the project (the account is made if needed). Only its hash is
        stored: show the returned token to the reviewer now; it cannot be recovered later (issue another instead).
        ``max_age``: how long the link works (None: until revoked); ``single_use``: it works once."""
        name = check_name(name)
        token = secrets.token_urlsafe(24)
        at = now()
        with self._write() as s:
            reviewer = s.scalar(select(Reviewer.id).where(Reviewer.project_id == project_id, Reviewer.name == name))
            if reviewer is None:
                reviewer = s.scalar(insert(Reviewer).values(project_id=project_id, name=name, created_at=at)
                                    .returning(Reviewer.id))
            s.execute(insert(LoginLink).values(
                reviewer_id=reviewer, token_hash=_digest(token), created_at=at, single_use=single_use,
                expires_at=at + max_age if max_age is not None else None))
        return token

    def revoke_tokens(self, project_id: int, name: str) -> int:
        """Revoke every login link of reviewer ``name`` and end their sessions; returns how many links were revoked."""
        with self._write() as s:
            reviewer = s.scalar(select(Reviewer.id).where(Reviewer.project_id == project_id, Reviewer.name == name))
            if reviewer is None:
                known = ", ".join(s.scalars(select(Reviewer.name).where(Reviewer.project_id == project_id)
                                            .order_by(Reviewer.name))) or "none yet"
                raise LabelwiseError(f"No reviewer named {name!r} in this project (reviewers: {known}).")
            n = s.execute(update(LoginLink).where(LoginLink.reviewer_id == reviewer, LoginLink.revoked_at.is_(None))
                          .values(revoked_at=now())).rowcount
            s.execute(delete(BrowserSession).where(BrowserSession.reviewer_id == reviewer))
        return int(n or 0)

    def reviewers(self, project_id: int) -> list[str]:
        with self._read() as s:
            return list(s.scalars(select(Reviewer.name).where(Reviewer.project_id == project_id)
                                  .order_by(Reviewer.name)))

    def login(self, project_id: int, token: str) -> Optional[tuple[str, str]]:
        """(session id, reviewer name) for a token that works in this project now, or None. The session id goes into
        the browser's cookie. A single-use link is spent here, in the same transaction."""
        if not token or len(token) > MAX_TOKEN:
            return None
        at = now()
        with self._write() as s:
            found = s.execute(
                select(LoginLink.id, LoginLink.reviewer_id, LoginLink.single_use, Reviewer.name)
                .join(Reviewer, Reviewer.id == LoginLink.reviewer_id)
                .where(LoginLink.token_hash == _digest(token), Reviewer.project_id == project_id,
                       LoginLink.revoked_at.is_(None), LoginLink.used_at.is_(None),
                       or_(LoginLink.expires_at.is_(None), LoginLink.expires_at > at))).first()
            if found is None:
                return None
            link, reviewer, single_use, name = found
            if single_use and not s.execute(update(LoginLink).where(LoginLink.id == link, LoginLink.used_at.is_(None))
                                            .values(used_at=at)).rowcount:
                return None  # spent by a concurrent login a moment ago
            sid = secrets.token_urlsafe(32)
            s.execute(insert(BrowserSession).values(id=_digest(sid), reviewer_id=reviewer,
                                                    csrf=secrets.token_urlsafe(32), created_at=at, last_seen_at=at))
        return sid, name

    def session(self, project_id: int, sid: str, policy: SessionPolicy = SessionPolicy()) -> Optional[dict]:
        """{"user", "csrf"} of a browser logged into this project, or None (unknown, revoked, expired, another
        project's). Read from the database on every call. Sessions survive a restart of the app."""
        if not sid or len(sid) > MAX_TOKEN:
            return None
        key, at = _digest(sid), now()
        with self._read() as s:
            found = s.execute(
                select(Reviewer.name, BrowserSession.csrf, BrowserSession.created_at, BrowserSession.last_seen_at)
                .join(Reviewer, Reviewer.id == BrowserSession.reviewer_id)
                .where(BrowserSession.id == key, Reviewer.project_id == project_id)).first()
        if found is None:
            return None
        name, csrf, created, last_seen = found
        if policy.expired(created, last_seen, at):
            with self._write() as s:
                s.execute(delete(BrowserSession).where(BrowserSession.id == key))
            return None
        if at - _aware(last_seen) > policy.touch_every():
            with self._write() as s:
                s.execute(update(BrowserSession).where(BrowserSession.id == key).values(last_seen_at=at))
        return {"user": name, "csrf": csrf}

    def logout(self, project_id: int, sid: str) -> bool:
        """End this browser's session; returns whether there was one."""
        if not sid or len(sid) > MAX_TOKEN:
            return False
        with self._write() as s:
            mine = select(Reviewer.id).where(Reviewer.project_id == project_id)
            return bool(s.execute(delete(BrowserSession).where(BrowserSession.id == _digest(sid),
                                                               BrowserSession.reviewer_id.in_(mine))).rowcount)

    def prune(self, project_id: int, policy: SessionPolicy = SessionPolicy()) -> dict[str, int]:
        """Delete the project's sessions that ``policy`` has ended and its links that can never log anyone in again
        (revoked, expired, or single-use and used); returns how many of each. Other projects in the database are
        left to their own servers, whose lifetimes may differ."""
        at = now()
        ended = []
        if policy.max_age is not None:
            ended.append(BrowserSession.created_at < at - policy.max_age)
        if policy.idle is not None:
            ended.append(BrowserSession.last_seen_at < at - policy.idle)
        mine = select(Reviewer.id).where(Reviewer.project_id == project_id)
        with self._write() as s:
            sessions = s.execute(delete(BrowserSession).where(BrowserSession.reviewer_id.in_(mine), or_(*ended))
                                 ).rowcount if ended else 0
            links = s.execute(delete(LoginLink).where(LoginLink.reviewer_id.in_(mine), or_(
                LoginLink.revoked_at.is_not(None), LoginLink.expires_at < at,
                and_(LoginLink.single_use.is_(True), LoginLink.used_at.is_not(None))))).rowcount
        return {"sessions": int(sessions or 0), "links": int(links or 0)}


def check_name(name: str) -> str:
    """A reviewer's name without surrounding spaces; 1 to MAX_NAME printable characters, else ParameterError."""
    name = str(name).strip()
    if not name or len(name) > MAX_NAME:
        raise ParameterError(f"A reviewer name must have 1 to {MAX_NAME} characters; got {len(name)}.")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise ParameterError(f"A reviewer name cannot hold control characters: {name!r}.")
    return name


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: _dt.datetime) -> _dt.datetime:
    """SQLite gives back naive datetimes; the store writes only UTC, so a naive one is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_dt.timezone.utc)
