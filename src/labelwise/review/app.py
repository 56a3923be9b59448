"""The review web app (FastAPI): a queue of the worst labels first, an item page, decisions as events.

Security: a login token (printed by the command) exchanged for an HttpOnly, SameSite=Strict session cookie
(Secure when served over https); a CSRF token in every form, checked on every POST; every string from the data
escaped by Jinja2's autoescape; no file path ever taken from a request. Binds 127.0.0.1 unless told otherwise
(see :func:`serve`).

First part of issue 4: one reviewer token, server-rendered pages; the only script is the keyboard shortcuts
(allowed by a per-page CSP nonce). Many accounts, filters and the load target are still to come.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Optional

from labelwise.errors import LabelwiseError, MissingExtraError
from labelwise.review.store import ConflictError, ReviewStore

try:
    from fastapi import FastAPI, Form, Request
    from fastapi.responses import HTMLResponse, RedirectResponse
    from jinja2 import DictLoader, Environment, select_autoescape
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("fastapi", "review", "the review app") from err

COOKIE = "labelwise_session"
PAGE = 50

_BASE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; script-src 'nonce-{{ nonce }}'">
<title>{% block title %}labelwise review{% endblock %}</title>
<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;color:#1f2933}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #cbd2d9;padding:4px 6px;text-align:left}
.q{font-variant-numeric:tabular-nums}.text{font-size:18px;background:#f5f7fa;padding:12px;border-radius:6px}
button{margin:2px;padding:6px 10px}td.t{width:45%}.conflict{background:#fde8e8;padding:10px;border:1px solid #d64545}</style>
</head><body><p><a href="/">queue</a> &middot; {{ done }} of {{ total }} reviewed</p>{% block body %}{% endblock %}
</body></html>"""

_QUEUE = """{% extends "base" %}{% block body %}<h1>Worst labels first</h1>
<table><tr><th>row</th><th>quality</th><th>current label</th><th>suggested</th><th>text</th><th></th></tr>
{% for it in items %}<tr><td class="q">{{ it.row }}</td><td class="q">{{ "%.3f"|format(it.label_quality) }}</td>
<td>{{ it.current_labels|join(", ") }}</td><td>{{ (it.suggestion or {}).get("labels", [])|join(", ") }}</td>
<td class="t">{{ it.payload.get("text", "")[:160] }}</td><td><a href="/item/{{ it.id }}">{{ "review" if not it.reviewed else "reviewed" }}</a></td></tr>
{% endfor %}</table>
{% if next_after %}<p><a href="/?after_quality={{ next_after[0] }}&after_id={{ next_after[1] }}">next page</a></p>{% endif %}
{% endblock %}"""

_ITEM = """{% extends "base" %}{% block body %}
{% if conflict %}<div class="conflict">{{ conflict }}</div>{% endif %}
<h1>Row {{ it.row }}</h1>
{% for key, value in it.payload.items() %}<p><b>{{ key }}</b></p><div class="text">{{ value }}</div>{% endfor %}
<p>Current label: <b>{{ it.current_labels|join(", ") }}</b> &middot; label quality {{ "%.3f"|format(it.label_quality) }}</p>
{% if it.suggestion %}<p>Suggested: <b>{{ it.suggestion.get("labels", [])|join(", ") }}</b></p>
<ul>{% for label, p in (it.suggestion.get("probabilities") or {}).items() %}<li>{{ label }}: {{ "%.2f"|format(p) }}</li>{% endfor %}</ul>{% endif %}
<form method="post" action="/item/{{ it.id }}/decide">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="version" value="{{ it.version }}">
<input name="label" id="label" list="classes" size="40" autocomplete="off" placeholder="type to search the classes"
 value="{{ (it.suggestion or {}).get("labels", [""])[0] }}">
<datalist id="classes">{% for c in classes %}<option value="{{ c }}">{% endfor %}</datalist>
<input name="reason" placeholder="why (optional)">
<button name="decision" value="relabel">relabel</button><button name="decision" value="keep">keep</button>
<button name="decision" value="ambiguous">ambiguous</button><button name="decision" value="skip">skip</button>
<button name="decision" value="undo">undo</button></form>
<p class="keys">Keys: <b>Enter</b> relabel to the class in the box &middot; <b>k</b> keep &middot; <b>a</b> ambiguous
&middot; <b>s</b> skip &middot; <b>u</b> undo &middot; <b>/</b> search classes &middot; <b>q</b> queue</p>
<script nonce="{{ nonce }}">
document.addEventListener("keydown", function (e) {
  if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
  var action = {k: "keep", a: "ambiguous", s: "skip", u: "undo"}[e.key];
  if (action) { e.preventDefault(); document.querySelector('button[value="' + action + '"]').click(); }
  else if (e.key === "/") { e.preventDefault(); var box = document.getElementById("label"); box.value = ""; box.focus(); }
  else if (e.key === "q") { window.location.href = "/"; }
});
</script>
<h2>History</h2><table><tr><th>when</th><th>who</th><th>source</th><th>decision</th><th>labels</th><th>why</th></tr>
{% for e in history %}<tr><td>{{ e.created_at[:19] }}</td><td>{{ e.author }}</td><td>{{ e.source }}</td><td>{{ e.decision }}</td>
<td>{{ e.labels|join(", ") }}</td><td>{{ e.reason }}</td></tr>{% endfor %}</table>{% endblock %}"""

_PAGES = Environment(loader=DictLoader({"base": _BASE, "queue": _QUEUE, "item": _ITEM}),
                     autoescape=select_autoescape(default=True, default_for_string=True))


def create_app(store: ReviewStore, project_id: int, classes: list[str], *, token: str, user: str = "reviewer",
               https: bool = False) -> FastAPI:
    """The app for one project. ``token``: the login token; ``user``: the name recorded on its events."""
    app = FastAPI(title="labelwise review", docs_url=None, redoc_url=None, openapi_url=None)
    sessions: dict[str, dict] = {}  # session id -> {"user", "csrf"}; server-side, nothing to forge in the cookie

    def session(request: Request) -> Optional[dict]:
        sid = request.cookies.get(COOKIE)
        return sessions.get(sid) if sid else None

    def page(name: str, status: int = 200, **context) -> HTMLResponse:
        done, total = store.progress(project_id)
        nonce = secrets.token_urlsafe(16)  # the page's one inline script runs; nothing else can (CSP)
        html = _PAGES.get_template(name).render(done=done, total=total, nonce=nonce, **context)
        return HTMLResponse(html, status_code=status)

    def denied() -> HTMLResponse:
        return HTMLResponse("<p>Log in with the link the <code>labelwise review</code> command printed.</p>",
                            status_code=401)

    @app.get("/login")
    def login(request: Request):
        given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse("<p>Wrong or missing token.</p>", status_code=403)
        sid = secrets.token_urlsafe(32)
        sessions[sid] = {"user": user, "csrf": secrets.token_urlsafe(32)}
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", secure=https)
        return response

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, after_quality: Optional[float] = None, after_id: Optional[int] = None):
        if session(request) is None:
            return denied()
        after = (after_quality, after_id) if after_quality is not None and after_id is not None else None
        items = store.queue(project_id, after=after, limit=PAGE)
        next_after = (items[-1].label_quality, items[-1].id) if len(items) == PAGE else None
        return page("queue", items=items, next_after=next_after)

    @app.get("/item/{item_id}", response_class=HTMLResponse)
    def item(request: Request, item_id: int):
        s = session(request)
        if s is None:
            return denied()
        try:
            view = store.item(item_id)
        except LabelwiseError:
            return HTMLResponse("<p>No such item.</p>", status_code=404)
        return page("item", it=view, csrf=s["csrf"], classes=classes, history=store.history(item_id), conflict=None)

    @app.post("/item/{item_id}/decide")
    def decide(request: Request, item_id: int, decision: str = Form(...), version: int = Form(...),
               csrf: str = Form(""), label: str = Form(""), reason: str = Form("")):
        s = session(request)
        if s is None:
            return denied()
        if not hmac.compare_digest(csrf.encode(), s["csrf"].encode()):
            return HTMLResponse("<p>Invalid form token (CSRF). Reload the page and try again.</p>", status_code=403)
        try:
            if decision == "undo":
                store.undo(item_id, author=s["user"], expected_version=version)
            else:
                current = store.item(item_id).current_labels
                labels = [label] if decision == "relabel" else current
                store.decide(item_id, labels=labels, decision=decision, author=s["user"], expected_version=version,
                             reason=reason)
        except ConflictError as err:
            view = store.item(item_id)
            return page("item", status=409, it=view, csrf=s["csrf"], classes=classes,
                        history=store.history(item_id), conflict=str(err))
        except (LabelwiseError, ValueError) as err:
            return HTMLResponse(f"<p>{_escape(str(err))}</p>", status_code=400)
        following = store.queue(project_id, limit=1, reviewed=False)
        return RedirectResponse(f"/item/{following[0].id}" if following else "/", status_code=303)

    return app


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8765) -> None:  # pragma: no cover - manual use
    """Run the app with uvicorn, on loopback unless a host is given."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
