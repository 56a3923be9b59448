"""The review web app (FastAPI): a queue of the worst labels first, an item page, decisions as events.

Pages are rendered on the server (templates in ``templates/``); the only script is the item page's keyboard
shortcuts, allowed by a per-page CSP nonce. Filters (given class, issue type, reviewed or not) travel in the query
string and survive every decision, so a reviewer can work through "outliers of class X" from start to end.

Security: each reviewer has an account and a login token (``labelwise review --reviewer NAME`` prints their link;
tokens are stored hashed). The token is exchanged for an HttpOnly, SameSite=Strict session cookie (Secure when
served over https). Every POST carries the session's CSRF token. Every string from the data is escaped by Jinja2's
autoescape. No file path is ever taken from a request. :func:`serve` binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hmac
import secrets
from contextlib import asynccontextmanager
from typing import List, Optional
from urllib.parse import urlencode

from labelwise.errors import LabelwiseError, MissingExtraError
from labelwise.review.schema import ISSUE_FLAGS
from labelwise.review.store import ConflictError, ItemView, QueueFilter, ReviewStore

try:
    import anyio
    from fastapi import FastAPI, Form, Request
    from fastapi.responses import HTMLResponse, RedirectResponse
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import escape
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("fastapi", "review", "the review app") from err

COOKIE = "labelwise_session"
PAGE = 50
TOP = 9  # suggestions shown with number keys
WORKER_THREADS = 8

_PAGES = Environment(loader=PackageLoader("labelwise.review", "templates"),
                     autoescape=select_autoescape(default=True, default_for_string=True))


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
    return QueueFilter(given_class=params.get("class") or None, issue=issue if issue in ISSUE_FLAGS else None,
                       reviewed=reviewed)


def _filter_qs(where: QueueFilter) -> str:
    params = {"class": where.given_class, "issue": where.issue,
              "reviewed": {True: "yes", False: "no"}.get(where.reviewed)}
    params = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(params) if params else ""


def create_app(store: ReviewStore, project_id: int, classes: list[str], *, https: bool = False) -> FastAPI:
    """The app for one project. Reviewers log in with tokens from ``store.issue_token(name)``."""
    @asynccontextmanager
    async def lifespan(_app):
        # Few worker threads: pages are CPU work under one GIL, and 40 threads (the default) competing for it make
        # the thread holding the database's write lock wait its turn behind all the others (long tails).
        # Requests beyond these wait in the event loop, first come first served.
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        yield

    app = FastAPI(title="labelwise review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    store.progress(project_id)  # fill the store's caches now, not under the first burst of reviewers
    store.given_classes(project_id)
    for name in ("queue.html", "item.html"):
        _PAGES.get_template(name)

    def session(request: Request) -> Optional[dict]:
        sid = request.cookies.get(COOKIE)
        return store.session(sid) if sid else None

    def page(name: str, s: dict, status: int = 200, **context) -> HTMLResponse:
        done, total = store.progress(project_id)
        nonce = secrets.token_urlsafe(16)  # the page's one inline script runs; nothing else can (CSP)
        html = _PAGES.get_template(name).render(done=done, total=total, nonce=nonce, user=s["user"], **context)
        return HTMLResponse(html, status_code=status)

    def denied() -> HTMLResponse:
        return HTMLResponse("<p>Log in with the link the <code>labelwise review</code> command printed for you.</p>",
                            status_code=401)

    def item_page(s: dict, item_id: int, where: QueueFilter, status: int = 200, conflict: Optional[str] = None):
        try:
            view, history, previous_id, next_id = store.item_page(project_id, item_id, where)
        except LabelwiseError:
            return HTMLResponse("<p>No such item.</p>", status_code=404)
        top = list((view.suggestion or {}).get("probabilities", {}).items())[:TOP]
        return page("item.html", s, status=status, it=view, csrf=s["csrf"], classes=classes, top=top,
                    history=history, conflict=conflict, previous_id=previous_id, next_id=next_id,
                    filter_qs=_filter_qs(where))

    @app.get("/login")
    def login(request: Request):
        found = store.login(request.query_params.get("token", ""))
        if found is None:
            return HTMLResponse("<p>Wrong, revoked or missing token. Ask for a new link "
                                "(<code>labelwise review DATA --reviewer NAME</code>).</p>", status_code=403)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, found[0], httponly=True, samesite="strict", secure=https)
        return response

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, after_quality: Optional[float] = None, after_id: Optional[int] = None):
        s = session(request)
        if s is None:
            return denied()
        where = _filter(request.query_params)
        after = (after_quality, after_id) if after_quality is not None and after_id is not None else None
        items = store.queue(project_id, after=after, limit=PAGE, where=where)
        next_page = None
        if len(items) == PAGE:
            qs = _filter_qs(where)
            keyset = urlencode({"after_quality": repr(items[-1].label_quality), "after_id": items[-1].id})
            next_page = f"/{qs}{'&' if qs else '?'}{keyset}"
        return page("queue.html", s, items=items, next_page=next_page, where=where, filter_qs=_filter_qs(where),
                    given_classes=store.given_classes(project_id), issue_names=list(ISSUE_FLAGS), preview=_preview,
                    start_id=store.next_to_review(project_id, where=where))

    @app.get("/item/{item_id}", response_class=HTMLResponse)
    def item(request: Request, item_id: int):
        s = session(request)
        if s is None:
            return denied()
        return item_page(s, item_id, _filter(request.query_params))

    @app.post("/item/{item_id}/decide")
    def decide(request: Request, item_id: int, decision: str = Form(...), version: int = Form(...),
               csrf: str = Form(""), label: str = Form(""), labels: List[str] = Form([]), reason: str = Form("")):
        s = session(request)
        if s is None:
            return denied()
        if not hmac.compare_digest(csrf.encode(), s["csrf"].encode()):
            return HTMLResponse("<p>Invalid form token (CSRF). Reload the page and try again.</p>", status_code=403)
        where = _filter(request.query_params)
        try:
            if decision == "undo":
                store.undo(item_id, author=s["user"], expected_version=version, project_id=project_id)
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
                store.decide(item_id, labels=chosen, decision=decision, author=s["user"], expected_version=version,
                             reason=reason, project_id=project_id)
        except ConflictError as err:
            return item_page(s, item_id, where, status=409, conflict=str(err))
        except (LabelwiseError, ValueError) as err:
            return HTMLResponse(f"<p>{escape(str(err))}</p><p><a href=\"/item/{item_id}\">back to the item</a></p>",
                                status_code=400)
        if decision == "undo":
            return RedirectResponse(f"/item/{item_id}{_filter_qs(where)}", status_code=303)
        following = store.next_to_review(project_id, where=where, after_item=item_id)
        target = f"/item/{following}" if following else "/"
        return RedirectResponse(target + _filter_qs(where), status_code=303)

    return app


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8765) -> None:  # pragma: no cover - manual use
    """Run the app with uvicorn, on loopback unless a host is given."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
