"""The review web app (FastAPI): a queue of the worst labels first, an item page, decisions as events.

Pages are rendered on the server (templates in ``templates/``); the only script is the item page's keyboard
shortcuts, allowed by a per-response CSP nonce. Filters (given class, issue type, reviewed or not) travel in the
query string and survive every decision, so a reviewer can work through "outliers of class X" from start to end.
With several reviewers per item each reviewer sees only their own items and answers blind (the store's views take
the signed-in reviewer); ``/agreement`` shows the consensus, each reviewer's quality and the agreement between them
(:mod:`labelwise.review.consensus`), per item only for the items the viewer has answered, and computed only from those
and the items all their reviewers have answered (so no statistic moves with an answer the viewer may not see yet;
``labelwise export`` has them over every answer).

Security:

- Each reviewer has an account in this project and a login link (``labelwise review --reviewer NAME`` prints it;
  tokens are stored hashed; links can expire or work once). The token is exchanged for an HttpOnly,
  SameSite=Strict session cookie, Secure when served over https or when told (``secure_cookies``, behind a proxy).
  The session is read from the database on every request, so a revocation or a logout (``POST /logout``) takes
  effect at once in every server process; sessions end after an idle and an absolute lifetime.
- Every POST carries the session's CSRF token. Every string from the data is escaped by Jinja2's autoescape. No
  file path is ever taken from a request.
- Every response, errors and redirects included, carries a Content-Security-Policy (nothing but the page's own
  nonce'd script; no framing, no ``<base>``), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``
  and ``Cache-Control: no-store`` (:class:`SecurityHeaders`).
- A malformed or out-of-range id or parameter is a 404 or 400, never a 500; every field has a length limit and a
  request body more than :data:`MAX_BODY` bytes is refused (413).
- :func:`bind` listens on 127.0.0.1 unless told otherwise, and a busy port is one clear error.
"""

from __future__ import annotations

import errno
import hmac
import math
import secrets
from dataclasses import dataclass
import socket
from contextlib import asynccontextmanager
from typing import List, Optional
from urllib.parse import urlencode

from labelwise.errors import LabelwiseError, ParameterError
from labelwise.review.schema import ISSUE_FLAGS
from labelwise.review.store import (
    DECISIONS, MAX_LABEL, MAX_REASON, ConflictError, ItemView, QueueFilter, ReviewStore, SessionPolicy,
)

try:
    import anyio
    from fastapi import FastAPI, Form, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, RedirectResponse
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import escape
    from starlette.datastructures import MutableHeaders
except ImportError as err:  # pragma: no cover - exercised only without the extra
    from labelwise.errors import MissingExtraError

    raise MissingExtraError("fastapi", "review", "the review app") from err

COOKIE = "labelwise_session"
PAGE = 50
TOP = 9  # suggestions shown with number keys
WORKER_THREADS = 8
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every database the store runs on
MAX_BODY = 64 * 1024  # bytes of a request body: a decision form is well under 10 KB
MAX_FIELD = 100  # characters of a token, a CSRF token, a decision or a version
AGREEMENT_ROWS = 500  # items listed on the agreement page (the export has all)

_PAGES = Environment(loader=PackageLoader("labelwise.review", "templates"),
                     autoescape=select_autoescape(default=True, default_for_string=True))


def security_headers(nonce: Optional[str] = None, https: bool = False) -> dict[str, str]:
    """The headers of every response. ``nonce``: the one inline script a page may run (none without it)."""
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    headers = {
        "Content-Security-Policy": (f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; "
                                    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class SecurityHeaders:
    """ASGI middleware around the whole app (outside Starlette's error handling, so a 500 gets them too): sets
    :func:`security_headers` on every response with a fresh nonce per request (pages read it from
    ``request.state.nonce``), and refuses request bodies over ``MAX_BODY`` bytes or of unknown length."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        nonce = secrets.token_urlsafe(16)
        scope["state"] = {**scope.get("state", {}), "nonce": nonce}
        headers = security_headers(nonce, https=scope.get("scheme") == "https")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        if scope["method"] in ("POST", "PUT", "PATCH"):
            length = dict(scope["headers"]).get(b"content-length")
            if length is None or not length.isdigit() or int(length) > MAX_BODY:
                too_big = length is not None and length.isdigit()
                response = HTMLResponse(f"<p>Request body over {MAX_BODY:,} bytes.</p>" if too_big else
                                        "<p>A request body needs its Content-Length.</p>",
                                        status_code=413 if too_big else 411)
                return await response(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)


class _App(FastAPI):
    def build_middleware_stack(self):
        return SecurityHeaders(super().build_middleware_stack())


def _preview(item: ItemView, width: int = 160) -> str:
    """The text shown in the queue: the ``text`` field, else the first fields joined."""
    if "text" in item.payload:
        return str(item.payload["text"])[:width]
    return " · ".join(f"{k}: {v}" for k, v in list(item.payload.items())[:4])[:width]


def _filter(params) -> QueueFilter:
    """The queue filter from query parameters ``class``, ``issue`` and ``reviewed`` (yes / no); unknown values are
    ignored rather than trusted."""
    issue = params.get("issue") or None
    reviewed = {"yes": True, "no": False}.get(params.get("reviewed", ""))
    given_class = params.get("class") or None
    if given_class is not None and len(given_class) > MAX_LABEL:
        given_class = None
    return QueueFilter(given_class=given_class, issue=issue if issue in ISSUE_FLAGS else None, reviewed=reviewed)


def _filter_qs(where: QueueFilter) -> str:
    params = {"class": where.given_class, "issue": where.issue,
              "reviewed": {True: "yes", False: "no"}.get(where.reviewed)}
    params = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(params) if params else ""


def _id(text: str) -> Optional[int]:
    """An id from a URL or form: a plain decimal number from 1 to MAX_ID, else None."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _version(text: str) -> Optional[int]:
    """An item version from a form: a decimal number from 0 to MAX_ID, else None."""
    if text == "0":
        return 0
    return _id(text)


def _number(value) -> str:
    """A statistic as the agreement page shows it: three decimals, or "n/a" where it is undefined (NaN)."""
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):.3f}"


def _plain(status: int, message: str) -> HTMLResponse:
    return HTMLResponse(f"<p>{escape(message)}</p>", status_code=status)


@dataclass(frozen=True)
class _AgreementRow:
    """One item of the agreement page: data row, consensus, its quality and status, each reviewer's answer."""

    row: int
    consensus: str
    quality: float
    status: str
    answers: list


def _agreement_rows(found, answers: dict, seen: set, limit: int = AGREEMENT_ROWS) -> list[_AgreementRow]:
    """The agreement page's items: those in ``seen`` (answered by the viewer), lowest consensus quality first."""
    at = found.by_row()
    shown = sorted((row for row in seen if row in at), key=lambda row: (found.quality[at[row]], row))[:limit]
    return [_AgreementRow(row, found.consensus[at[row]], float(found.quality[at[row]]), found.status[at[row]],
                          [", ".join(answers[row][who]["labels"]) if who in answers[row] else ""
                           for who in found.reviewers]) for row in shown]


def create_app(store: ReviewStore, project_id: int, classes: list[str], *, policy: SessionPolicy = SessionPolicy(),
               secure_cookies: bool = False, order=None, pred_probs=None, row_ids=None) -> FastAPI:
    """The app for one project. Reviewers log in with tokens from ``store.issue_token(project_id, name)``; their
    sessions last as ``policy`` says. ``secure_cookies``: mark the session cookie Secure even when the app itself
    sees plain http (behind an https proxy); over https it is Secure anyway. ``order``: an
    :class:`~labelwise.review.informative.InformativeOrder` to show the queue most informative first (started and
    stopped with the app; label-quality order while it has none); None: worst label quality first. ``pred_probs``
    ((n, K) float, row i for data row ``row_ids[i]``): the audit's probabilities, for CROWDLAB's consensus on the
    agreement page."""
    @asynccontextmanager
    async def lifespan(_app):
        # Few worker threads: pages are CPU work under one GIL, and 40 threads (the default) competing for it make
        # the thread holding the database's write lock wait its turn behind all the others (long tails).
        # Requests beyond these wait in the event loop, first come first served.
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        if order is not None:
            order.start()
        try:
            yield
        finally:
            if order is not None:
                order.stop()

    app = _App(title="labelwise review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    store.progress(project_id)  # fill the store's caches now, not under the first burst of reviewers
    store.given_classes(project_id)
    for name in ("queue.html", "item.html", "agreement.html"):
        _PAGES.get_template(name)
    known = set(classes)

    @app.exception_handler(RequestValidationError)
    async def malformed(_request, _exc):
        return _plain(400, "Malformed request: a field is missing, too long or not what this page sends.")

    def session(request: Request) -> Optional[dict]:
        sid = request.cookies.get(COOKIE)
        return store.session(project_id, sid, policy) if sid else None

    def page(request: Request, name: str, s: dict, status: int = 200, **context) -> HTMLResponse:
        done, total = store.progress(project_id, reviewer=s["user"])
        html = _PAGES.get_template(name).render(done=done, total=total, nonce=request.state.nonce, user=s["user"],
                                                csrf=s["csrf"], **context)
        return HTMLResponse(html, status_code=status)

    def denied() -> HTMLResponse:
        return HTMLResponse("<p>Log in with the link the <code>labelwise review</code> command printed for you.</p>",
                            status_code=401)

    def not_found() -> HTMLResponse:
        return _plain(404, "No such item in this project.")

    def item_page(request: Request, s: dict, item_id: int, where: QueueFilter, status: int = 200,
                  conflict: Optional[str] = None):
        try:
            view, history, previous_id, next_id = store.item_page(project_id, item_id, where, reviewer=s["user"])
        except LabelwiseError:
            return not_found()
        ranked = order.current() if order is not None else None
        if ranked is not None:  # previous and next in the informative order
            ids = store.queue_in_order(project_id, ranked.rank, where=where, limit=0, reviewer=s["user"])[1]
            if item_id in ids:
                place = ids.index(item_id)
                previous_id = ids[place - 1] if place > 0 else None
                next_id = ids[place + 1] if place + 1 < len(ids) else None
        top = list((view.suggestion or {}).get("probabilities", {}).items())[:TOP]
        return page(request, "item.html", s, status=status, it=view, classes=classes, top=top, history=history,
                    conflict=conflict, previous_id=previous_id, next_id=next_id, filter_qs=_filter_qs(where))

    def cookie_is_secure(request: Request) -> bool:
        return secure_cookies or request.url.scheme == "https"

    @app.get("/login")
    def login(request: Request):
        found = store.login(project_id, request.query_params.get("token", "")[:MAX_FIELD + 1])
        if found is None:
            return HTMLResponse("<p>Wrong, expired, used, revoked or missing login link. Ask for a new one "
                                "(<code>labelwise review DATA --reviewer NAME</code>).</p>", status_code=403)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, found[0], httponly=True, samesite="strict", secure=cookie_is_secure(request))
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("", max_length=MAX_FIELD)):
        s = session(request)
        if s is None:
            return denied()
        if not hmac.compare_digest(csrf.encode(), s["csrf"].encode()):
            return _plain(403, "Invalid form token (CSRF). Reload the page and try again.")
        store.logout(project_id, request.cookies.get(COOKIE, ""))
        response = _plain(200, "You are logged out. Your login link logs you in again while it is valid.")
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=cookie_is_secure(request))
        return response

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request):
        s = session(request)
        if s is None:
            return denied()
        where = _filter(request.query_params)
        ranked = order.current() if order is not None else None
        if ranked is not None:
            return informative_queue(request, s, where, ranked)
        after = None
        quality, after_id = request.query_params.get("after_quality"), request.query_params.get("after_id")
        if quality is not None or after_id is not None:
            try:
                after = (float((quality or "")[:40]), _id(after_id or ""))
            except ValueError:
                after = None
            if after is None or after[1] is None or not math.isfinite(after[0]):
                return _plain(400, "Malformed page position (after_quality, after_id). Start again from the queue.")
        items = store.queue(project_id, after=after, limit=PAGE, where=where, reviewer=s["user"])
        next_page = None
        if len(items) == PAGE:
            qs = _filter_qs(where)
            keyset = urlencode({"after_quality": repr(items[-1].label_quality), "after_id": items[-1].id})
            next_page = f"/{qs}{'&' if qs else '?'}{keyset}"
        return page(request, "queue.html", s, items=items, next_page=next_page, where=where,
                    filter_qs=_filter_qs(where), given_classes=store.given_classes(project_id),
                    issue_names=list(ISSUE_FLAGS), preview=_preview,
                    start_id=store.next_to_review(project_id, where=where, reviewer=s["user"]),
                    per_item=store.reviewers_per_item(project_id), order_note=quality_order_note(),
                    informative=False)

    @app.get("/agreement", response_class=HTMLResponse)
    def agreement(request: Request):
        s = session(request)
        if s is None:
            return denied()
        from labelwise.review.consensus import review_consensus

        snap = store.export_snapshot(project_id)
        answers = snap.answers()
        if snap.reviewers_per_item > 1:  # blind: the statistics, too, only from items the viewer may see answered
            done = store.answered_by_all(project_id)
            answers = {row: by for row, by in answers.items() if s["user"] in by or row in done}
        found = review_consensus(answers, classes, pred_probs=pred_probs, row_ids=row_ids)
        seen = set(answers) if snap.reviewers_per_item == 1 else {  # the items the viewer answered
            row for row, by in answers.items() if s["user"] in by}
        pairs = found.agreement_frame().iloc[1:].to_dict("records")
        return page(request, "agreement.html", s, found=found, per_item=snap.reviewers_per_item,
                    rows=_agreement_rows(found, answers, seen), pairs=pairs, shown_limit=AGREEMENT_ROWS,
                    reviewer_rows=found.reviewer_frame().to_dict("records"), fmt=_number)

    def quality_order_note() -> str:
        if order is None:
            return "worst label quality first"
        why = ("the last refit of the model failed (see the server's log); it refits after the next decisions"
               if order.error else "the model's first refit is still running")
        return f"worst label quality first: the most informative order is not available yet ({why})"

    def informative_queue(request: Request, s: dict, where: QueueFilter, ranked) -> HTMLResponse:
        after_item = None
        if "after_item" in request.query_params:
            after_item = _id(request.query_params["after_item"])
            if after_item is None:
                return _plain(400, "Malformed page position (after_item). Start again from the queue.")
        items, _ = store.queue_in_order(project_id, ranked.rank, where=where, after_item=after_item, limit=PAGE,
                                       reviewer=s["user"])
        next_page = None
        if len(items) == PAGE:
            qs = _filter_qs(where)
            next_page = f"/{qs}{'&' if qs else '?'}{urlencode({'after_item': items[-1].id})}"
        unreviewed = QueueFilter(where.given_class, where.issue, False)
        first = store.queue_in_order(project_id, ranked.rank, where=unreviewed, limit=1, reviewer=s["user"])[0]
        return page(request, "queue.html", s, items=items, next_page=next_page, where=where,
                    filter_qs=_filter_qs(where), given_classes=store.given_classes(project_id),
                    issue_names=list(ISSUE_FLAGS), preview=_preview, start_id=first[0].id if first else None,
                    order_note=ranked.describe(), informative=True,
                    per_item=store.reviewers_per_item(project_id))

    def next_item(where: QueueFilter, after_item: int, reviewer: str) -> Optional[int]:
        """The next item without a decision after ``after_item`` in the queue's order, wrapping to the start."""
        ranked = order.current() if order is not None else None
        if ranked is None:
            return store.next_to_review(project_id, where=where, after_item=after_item, reviewer=reviewer)
        unreviewed = QueueFilter(where.given_class, where.issue, False)
        found = store.queue_in_order(project_id, ranked.rank, where=unreviewed, after_item=after_item, limit=1,
                                     reviewer=reviewer)[0]
        found = found or store.queue_in_order(project_id, ranked.rank, where=unreviewed, limit=1, reviewer=reviewer)[0]
        return found[0].id if found else None

    @app.get("/item/{item_id}", response_class=HTMLResponse)
    def item(request: Request, item_id: str):
        s = session(request)
        if s is None:
            return denied()
        number = _id(item_id)
        if number is None:
            return not_found()
        return item_page(request, s, number, _filter(request.query_params))

    @app.post("/item/{item_id}/decide")
    def decide(request: Request, item_id: str, decision: str = Form(..., max_length=MAX_FIELD),
               version: str = Form(..., max_length=MAX_FIELD), csrf: str = Form("", max_length=MAX_FIELD),
               label: str = Form("", max_length=MAX_LABEL), labels: List[str] = Form([]),
               reason: str = Form("", max_length=MAX_REASON)):
        s = session(request)
        if s is None:
            return denied()
        if not hmac.compare_digest(csrf.encode(), s["csrf"].encode()):
            return _plain(403, "Invalid form token (CSRF). Reload the page and try again.")
        number, expected = _id(item_id), _version(version)
        if number is None or not store.has_item(project_id, number):
            return not_found()
        if expected is None or decision not in DECISIONS:
            return _plain(400, "Malformed decision or version. Reload the page and decide again.")
        if len(labels) > len(known) or any(len(x) > MAX_LABEL for x in labels):
            return _plain(400, "Too many or too long labels. Choose from the project's classes.")
        where = _filter(request.query_params)
        try:
            if decision == "undo":
                store.undo(number, author=s["user"], expected_version=expected, project_id=project_id)
            else:
                chosen = None  # keep / ambiguous / skip: the current labels
                if decision == "relabel":
                    if not label.strip():
                        raise LabelwiseError("Type or choose the class to relabel to.")
                    chosen = [label.strip()]
                elif decision == "several":
                    chosen = list(labels) + ([label.strip()] if label.strip() else [])
                    if len(set(chosen)) < 2:
                        raise LabelwiseError("Tick two or more classes (or tick one and type another) for "
                                             "\"several labels\".")
                store.decide(number, labels=chosen, decision=decision, author=s["user"], expected_version=expected,
                             reason=reason, project_id=project_id)
        except ConflictError as err:
            return item_page(request, s, number, where, status=409, conflict=str(err))
        except LabelwiseError as err:
            return HTMLResponse(f"<p>{escape(str(err))}</p><p><a href=\"/item/{number}\">back to the item</a></p>",
                                status_code=400)
        if order is not None:
            order.decided()  # counts it; a refit, if due, runs on the order's own thread
        if decision == "undo":
            return RedirectResponse(f"/item/{number}{_filter_qs(where)}", status_code=303)
        following = next_item(where, number, s["user"])
        target = f"/item/{following}" if following else "/"
        return RedirectResponse(target + _filter_qs(where), status_code=303)

    return app


def bind(host: str = "127.0.0.1", port: int = 8765) -> socket.socket:
    """A listening socket on ``host:port``; a busy port, a port that needs privileges or an unknown host is one
    ParameterError that says what to do."""
    if not 0 <= port <= 65535:
        raise ParameterError(f"--port must be from 0 to 65535; got {port}.")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as err:
        raise ParameterError(f"Cannot listen on {host!r}: {err}. Give an address such as 127.0.0.1 with "
                             "--host.") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ParameterError(f"Port {port} on {host} is already in use (another `labelwise review`?). Stop that "
                                 "server, or choose another port with --port.") from None
        if err.errno == errno.EACCES:
            raise ParameterError(f"Port {port} on {host} needs privileges. Choose a port from 1024 up with "
                                 "--port.") from None
        raise ParameterError(f"Cannot listen on {host}:{port}: {err.strerror}. Check --host and --port.") from None
    return sock


def serve(app: FastAPI, sock: socket.socket) -> None:  # pragma: no cover - manual use and the subprocess tests
    """Run the app with uvicorn on a socket from :func:`bind`."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
