"""The review app under attack: revoked, expired, spent and foreign credentials, framing and sniffing, malformed and
oversized input, a busy port. Each test is one attack from issue 13, with what must come back."""

from __future__ import annotations

import datetime as _dt
import re
import socket
import threading

import pytest

pytest.importorskip("fastapi", reason="the review app needs the review extra (pip install -e '.[review]')")
httpx = pytest.importorskip("httpx", reason="the app tests use FastAPI's TestClient (httpx)")

from fastapi.testclient import TestClient  # noqa: E402

from labelwise.cli.main import main  # noqa: E402
from labelwise.cli.review import parse_duration  # noqa: E402
from labelwise.review.project import open_audit_project  # noqa: E402
from labelwise.errors import ParameterError  # noqa: E402
from labelwise.review import accounts  # noqa: E402
from labelwise.review.app import COOKIE, MAX_BODY, bind, create_app  # noqa: E402
from labelwise.review.store import MAX_LABEL, MAX_REASON, ReviewStore, SessionPolicy  # noqa: E402
from tests.review.servers import audit_dir, free_port, start, stop  # noqa: E402

CLASSES = ["card_arrival", "pin_blocked", "card_linking"]
HEADERS = {"content-security-policy": ("default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"),
           "x-content-type-options": ("nosniff",), "referrer-policy": ("no-referrer",),
           "cache-control": ("no-store",)}


def _project(store, name="A", n=4):
    pid = store.create_project(name, CLASSES)
    store.add_items(pid, [{"row": i, "payload": {"text": f"{name} question {i}"}, "given": [CLASSES[i % 3]],
                           "label_quality": i / 10} for i in range(n)])
    return pid


@pytest.fixture()
def two_projects(store_url):
    """One database holding projects A and B (as two audit folders sharing --db would)."""
    store = ReviewStore(store_url)
    return store, _project(store, "A"), _project(store, "B")


def _login(client, store, pid, name="ana", **kwargs):
    r = client.get("/login", params={"token": store.issue_token(pid, name, **kwargs)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r


def _csrf(client, path="/"):
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


class Clock:
    """The store's clock, moved by hand."""

    def __init__(self, monkeypatch):
        self.now = _dt.datetime(2030, 1, 1, tzinfo=_dt.timezone.utc)
        monkeypatch.setattr(accounts, "now", lambda: self.now)

    def advance(self, **delta):
        self.now += _dt.timedelta(**delta)


def test_revocation_ends_sessions_at_the_next_request_in_every_server(two_projects):
    store, a, _ = two_projects
    first, second = ReviewStore(store.url), ReviewStore(store.url)  # two server processes on one database
    c1, c2 = TestClient(create_app(first, a, CLASSES)), TestClient(create_app(second, a, CLASSES))
    _login(c1, first, a)
    _login(c2, second, a)
    assert c1.get("/").status_code == 200 and c2.get("/").status_code == 200  # both sessions in use
    assert ReviewStore(store.url).revoke_tokens(a, "ana") == 2  # `labelwise review --revoke ana`, a third process
    assert c1.get("/").status_code == 401 and c2.get("/").status_code == 401


def test_revoke_from_the_command_line_reaches_a_running_server(tmp_path, capfd):
    folder = audit_dir(tmp_path)
    port = free_port()
    proc, url = start(folder, port, None, "-r", "ana")
    try:
        client = httpx.Client(timeout=10)
        client.get(url)
        assert client.get(f"http://127.0.0.1:{port}/").status_code == 200
        # a second `labelwise review --revoke ana` on the same folder: revokes, then finds the port busy (exit 2)
        assert main(["review", str(folder), "--revoke", "ana", "--port", str(port)]) == 2
        assert client.get(f"http://127.0.0.1:{port}/").status_code == 401  # the very next request
        assert client.get(url).status_code == 403  # and the link is dead
    finally:
        stop(proc)
    err = capfd.readouterr().err
    assert "revoked 1 login link(s) of ana" in err and f"Port {port} on 127.0.0.1 is already in use" in err


def test_reviewer_names_are_printed_as_text(tmp_path, capfd):
    """A name with markup comes back to the terminal as the text typed, never read as markup (names with control
    characters are refused when the reviewer is added)."""
    folder = audit_dir(tmp_path)
    store, pid, _ = open_audit_project(folder)
    store.issue_token(pid, "[/]ana[bold]")
    store.dispose()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["review", str(folder), "--revoke", "[/]ana[bold]", "--port", str(port)]) == 2
    err = capfd.readouterr().err
    assert "revoked 1 login link(s) of [/]ana[bold]" in err


def test_sessions_end_after_their_idle_and_absolute_lifetimes(two_projects, monkeypatch):
    store, a, _ = two_projects
    clock = Clock(monkeypatch)
    client = TestClient(create_app(store, a, CLASSES, policy=SessionPolicy(idle=_dt.timedelta(minutes=30),
                                                                           max_age=_dt.timedelta(hours=2))))
    _login(client, store, a)
    for minutes in (20, 25, 25, 25):  # busy: never 30 minutes idle ...
        clock.advance(minutes=minutes)
        assert client.get("/").status_code == 200
    clock.advance(minutes=26)  # ... but 2 h 01 after the login
    assert client.get("/").status_code == 401
    _login(client, store, a)
    clock.advance(minutes=31)  # idle
    assert client.get("/").status_code == 401


def test_login_links_can_expire_or_work_once(two_projects, monkeypatch):
    store, a, _ = two_projects
    clock = Clock(monkeypatch)
    client = TestClient(create_app(store, a, CLASSES))
    expiring = store.issue_token(a, "ana", max_age=_dt.timedelta(hours=1))
    clock.advance(minutes=59)
    assert client.get("/login", params={"token": expiring}, follow_redirects=False).status_code == 303
    clock.advance(minutes=2)
    assert client.get("/login", params={"token": expiring}).status_code == 403
    once = store.issue_token(a, "bo", single_use=True)
    assert client.get("/login", params={"token": once}, follow_redirects=False).status_code == 303
    assert client.get("/login", params={"token": once}).status_code == 403


def test_a_single_use_link_opened_twice_at_once_logs_in_once(two_projects):
    store, a, _ = two_projects
    token = store.issue_token(a, "ana", single_use=True)
    stores = [ReviewStore(store.url) for _ in range(6)]
    results, barrier = [], threading.Barrier(len(stores))

    def open_link(s):
        barrier.wait()
        results.append(s.login(a, token))

    threads = [threading.Thread(target=open_link, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r is not None for r in results) == 1 and len(results) == 6


def test_sessions_and_links_are_pruned_instead_of_piling_up(two_projects, monkeypatch):
    store, a, b = two_projects
    clock = Clock(monkeypatch)
    policy = SessionPolicy(idle=_dt.timedelta(hours=12), max_age=_dt.timedelta(days=7))
    client = TestClient(create_app(store, a, CLASSES, policy=policy))
    counts = []
    for start_ in range(10):  # a server started every 3 days, one link printed and used each time
        store.prune(a, policy)
        _login(client, store, a)
        client.get("/")
        counts.append(_rows(store))
        clock.advance(days=3)
    assert counts[-1] == counts[3] and counts[-1]["login_links"] <= 3 and counts[-1]["browser_sessions"] <= 1
    store.revoke_tokens(a, "ana")
    store.issue_token(a, "bo", single_use=True)
    client.get("/login", params={"token": store.issue_token(a, "cy", single_use=True)})
    other = store.issue_token(b, "ana", max_age=_dt.timedelta(hours=1))
    clock.advance(hours=2)  # project B's link has expired, but that is for B's server to prune
    assert store.prune(a, policy)["links"] >= 2  # revoked and spent links go at once
    assert _rows(store)["login_links"] == 2  # bo's unused link stays, and B's
    assert store.prune(b, policy)["links"] == 1 and store.login(b, other) is None


def _rows(store) -> dict:
    with store.engine.connect() as s:
        return {t: s.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() for t in ("login_links", "browser_sessions")}


def test_logout_ends_the_session_and_needs_the_csrf_token(two_projects):
    store, a, _ = two_projects
    client = TestClient(create_app(store, a, CLASSES))
    _login(client, store, a)
    cookie = client.cookies.get(COOKIE)
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/").status_code == 200  # a forged logout changes nothing
    r = client.post("/logout", data={"csrf": _csrf(client)})
    assert r.status_code == 200 and COOKIE in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    client.cookies.set(COOKIE, cookie)  # the old cookie, kept by an attacker, is worth nothing now
    assert client.get("/").status_code == 401
    assert client.get("/logout").status_code == 405


def test_a_reviewer_of_one_project_cannot_enter_another(two_projects):
    store, a, b = two_projects
    app_a, app_b = TestClient(create_app(store, a, CLASSES)), TestClient(create_app(store, b, CLASSES))
    bobs_link = store.issue_token(b, "bob")
    assert app_a.get("/login", params={"token": bobs_link}).status_code == 403
    assert app_b.get("/login", params={"token": bobs_link}, follow_redirects=False).status_code == 303
    app_a.cookies.set(COOKIE, app_b.cookies.get(COOKIE))  # B's session cookie on A's server
    assert app_a.get("/").status_code == 401
    _login(app_a, store, a, "ana")  # one name, two accounts: revoking ana of B leaves ana of A alone
    store.issue_token(b, "ana")
    store.revoke_tokens(b, "ana")
    assert app_a.get("/").status_code == 200 and store.reviewers(a) == ["ana"] and store.reviewers(b) == ["ana", "bob"]


def test_every_response_carries_the_security_headers(two_projects):
    store, a, _ = two_projects
    app = create_app(store, a, CLASSES)
    client = TestClient(app, raise_server_exceptions=False)
    responses = {"401": client.get("/"), "403 bad link": client.get("/login", params={"token": "x"})}
    responses["303 login"] = client.get("/login", params={"token": store.issue_token(a, "ana")},
                                        follow_redirects=False)
    client.cookies.set(COOKIE, responses["303 login"].cookies[COOKIE])
    item = store.queue(a, limit=1)[0]
    page = client.get(f"/item/{item.id}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    responses.update({
        "200 item": page, "200 queue": client.get("/"), "404 route": client.get("/no/such/page"),
        "404 item": client.get("/item/999999"), "400": client.get("/?after_quality=x&after_id=1"),
        "405": client.get("/logout"),
        "400 form": client.post(f"/item/{item.id}/decide", data={"csrf": csrf, "decision": "keep"}),
        "413": client.post(f"/item/{item.id}/decide", content=b"x" * (MAX_BODY + 1),
                           headers={"content-type": "application/x-www-form-urlencoded"}),
        "303 decide": client.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": "0", "decision": "keep"},
                                  follow_redirects=False),
    })
    responses["409"] = client.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": "0", "decision": "keep"})
    store.queue = lambda *args, **kwargs: 1 / 0  # a bug: the 500 page is covered too
    responses["500"] = client.get("/")
    for what, r in responses.items():
        assert r.status_code == int(what.split()[0]), (what, r.status_code, r.text[:200])
        for header, parts in HEADERS.items():
            assert all(p in r.headers.get(header, "") for p in parts), (what, header, r.headers.get(header))
    # the page's own script runs (its nonce is the header's), nothing else can
    nonce = re.search(r"script-src 'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
    assert f'<script nonce="{nonce}">' in page.text and page.text.count("<script") == 1
    assert "<meta http-equiv" not in page.text


def test_cookies_are_secure_over_https_or_when_told(two_projects):
    store, a, _ = two_projects
    cases = {("http", False): False, ("https", False): True, ("http", True): True}
    for (scheme, told), secure in cases.items():
        client = TestClient(create_app(store, a, CLASSES, secure_cookies=told), base_url=f"{scheme}://testserver")
        cookie = _login(client, store, a).headers["set-cookie"].lower()
        assert ("; secure" in cookie) == secure, (scheme, told, cookie)
        assert "httponly" in cookie and "samesite=strict" in cookie


def test_malformed_or_out_of_range_ids_are_404_or_400_never_500(two_projects):
    store, a, b = two_projects
    client = TestClient(create_app(store, a, CLASSES), raise_server_exceptions=False)
    _login(client, store, a)
    mine, foreign = store.queue(a, limit=1)[0], store.queue(b, limit=1)[0]
    csrf = _csrf(client)
    huge = "9" * 30
    gets = {f"/item/{huge}": 404, "/item/-1": 404, "/item/0": 404, "/item/abc": 404, "/item/1.5": 404,
            "/item/2147483648": 404, "/item/%EF%BC%91": 404, f"/item/{foreign.id}": 404,
            "/?after_quality=nan&after_id=1": 400, "/?after_quality=inf&after_id=1": 400,
            f"/?after_quality=0&after_id={huge}": 400, "/?after_quality=0": 400, "/?after_id=-3": 400,
            "/?class=" + "x" * 5000: 200, "/?issue=%00&reviewed=%FF": 200}
    for path, status in gets.items():
        assert client.get(path).status_code == status, path
    posts = {(f"/item/{huge}/decide", "0", "keep"): 404, (f"/item/{foreign.id}/decide", "0", "keep"): 404,
             (f"/item/{mine.id}/decide", huge, "keep"): 400, (f"/item/{mine.id}/decide", "-1", "keep"): 400,
             (f"/item/{mine.id}/decide", "x", "keep"): 400, (f"/item/{mine.id}/decide", "0", "delete"): 400,
             (f"/item/{mine.id}/decide", "0", "relabel"): 400, (f"/item/{mine.id}/decide", "7", "keep"): 409}
    for (path, version, decision), status in posts.items():
        r = client.post(path, data={"csrf": csrf, "version": version, "decision": decision})
        assert r.status_code == status, (path, version, decision, r.status_code)
    assert store.item(mine.id).version == 0 and store.item(foreign.id).version == 0


def test_every_field_has_a_length_limit(two_projects):
    store, a, _ = two_projects
    client = TestClient(create_app(store, a, CLASSES), raise_server_exceptions=False)
    _login(client, store, a)
    item = store.queue(a, limit=1)[0]
    csrf = _csrf(client)

    def decide(**fields):
        return client.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": "0", **fields},
                           follow_redirects=False).status_code

    assert decide(decision="keep", reason="x" * (MAX_REASON + 1)) == 400
    assert decide(decision="relabel", label="y" * (MAX_LABEL + 1)) == 400
    assert decide(decision="several", labels=["card_arrival"] * (len(CLASSES) + 1)) == 400
    assert decide(decision="keep" * 30) == 400
    assert client.post(f"/item/{item.id}/decide", data={"csrf": "c" * 200, "version": "0", "decision": "keep"}
                       ).status_code == 400
    assert client.get("/login", params={"token": "t" * 5000}).status_code == 403
    assert store.item(item.id).version == 0
    assert decide(decision="keep", reason="x" * MAX_REASON) == 303  # the limit itself is fine
    with pytest.raises(ParameterError, match="1 to 200 characters"):
        store.issue_token(a, "n" * 201)
    with pytest.raises(ParameterError, match="control characters"):
        store.issue_token(a, "ana\x1b[31m")
    with pytest.raises(ParameterError, match="at most"):
        store.decide(item.id, decision="keep", author="ana", expected_version=1, reason="x" * (MAX_REASON + 1))


def test_a_busy_port_is_one_clear_line(tmp_path, capfd):
    folder = audit_dir(tmp_path, n=10)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["review", str(folder), "--port", str(port), "-r", "ana"]) == 2
        with pytest.raises(ParameterError, match="already in use"):
            bind("127.0.0.1", port)
    err = capfd.readouterr().err
    assert err.strip().splitlines() == [f"error: Port {port} on 127.0.0.1 is already in use (another `labelwise "
                                        "review`?). Stop that server, or choose another port with --port."]
    with pytest.raises(ParameterError, match="from 0 to 65535"):
        bind("127.0.0.1", 70000)


def test_durations_on_the_command_line():
    assert parse_duration("90s", "--x") == _dt.timedelta(seconds=90)
    assert parse_duration("12h", "--x") == _dt.timedelta(hours=12) and parse_duration("7d", "--x").days == 7
    assert parse_duration("never", "--x") is None
    for bad in ("", "0h", "12", "1w", "-1d", "1.5h", "9" * 20 + "d"):
        with pytest.raises(ParameterError, match="--x takes a duration"):
            parse_duration(bad, "--x")
