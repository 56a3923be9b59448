"""The model under audit, reached only through its predicted labels: a Python callable, a fitted scikit-learn model
file you trust, or an HTTP endpoint of yours that answers labels as JSON.

Safety (the audit is for models you own): the HTTP client talks to the one URL you give and nothing else. It sends
``POST URL`` with ``{"inputs": [[float, ...], ...]}`` (the public rows and the rows the attack generated, nothing
else: never the private rows, no headers beyond Content-Type and Accept, no cookies, no credentials), ignores proxy
settings, follows no redirect, times out every request and retries a failed one a bounded number of times. The
answer must be a JSON list of labels, one per row, or ``{"labels": [...]}``.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from labelwise.data.pickled_model import load_pickled_model
from labelwise.errors import DataError, ParameterError


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise DataError(f"the privacy target {req.full_url} answered a redirect ({code}) to {newurl[:200]}; labelwise "
                        "follows none. Give the final URL of your own endpoint.")


class HttpLabelTarget:
    """``target(X: (n, d) float) -> (n,) labels`` through ``POST url`` (see the module docstring).

    url: http(s) URL of your own endpoint; timeout: seconds per request; retries: further tries of a request that
    failed to connect, timed out or got a 5xx answer (then a DataError); batch_size: rows per request. An answer
    must arrive whole within ``timeout`` seconds and be at most ``max_bytes`` long. max_seconds: no request is sent
    later than this many seconds after the first (then a DataError), so one call over many batches stays bounded.
    """

    max_bytes = 64 * 1024 * 1024

    def __init__(self, url: str, *, timeout: float = 10.0, retries: int = 2, batch_size: int = 256,
                 max_seconds: Optional[float] = None):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ParameterError(f"the privacy target URL must be http:// or https:// with a host; got {url[:200]!r}.")
        try:
            parts.port
        except ValueError:
            raise ParameterError(f"the privacy target URL has a bad port; got {url[:200]!r}.") from None
        if parts.username or parts.password:
            raise ParameterError("the privacy target URL carries a user name or password; labelwise sends no "
                                 "credentials: give an endpoint that needs none (e.g. on 127.0.0.1).")
        if timeout <= 0 or retries < 0 or batch_size < 1 or (max_seconds is not None and max_seconds <= 0):
            raise ParameterError("timeout and max_seconds must be > 0, retries >= 0 and batch_size >= 1.")
        self.url, self.timeout, self.retries, self.batch_size = url, float(timeout), int(retries), int(batch_size)
        self.max_seconds, self._deadline = max_seconds, None
        # no proxy (the rows go to the named host only), no redirect, no cookie jar
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
        self.requests = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        answers = []
        for start in range(0, len(X), self.batch_size):
            if self.max_seconds is not None:
                self._deadline = self._deadline or time.monotonic() + self.max_seconds
                if time.monotonic() > self._deadline:
                    raise DataError(f"the privacy target {self.url} is still being asked after {self.max_seconds:g} "
                                    "s, the time bound; raise --privacy-seconds or lower --privacy-queries.")
            answers.extend(self._post(X[start:start + self.batch_size]))
        return np.asarray(answers, dtype=object)

    def _post(self, rows: np.ndarray) -> list:
        body = json.dumps({"inputs": rows.tolist()}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    payload = self._read(response, time.monotonic() + self.timeout)
                break
            except urllib.error.HTTPError as err:
                if err.code < 500 or attempt == self.retries:
                    raise DataError(f"the privacy target {self.url} answered HTTP {err.code} to a batch of "
                                    f"{len(rows)} rows; check that it takes POST {{\"inputs\": [[...]]}}.") from None
            except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as err:
                if attempt == self.retries:
                    reason = getattr(err, "reason", err)
                    raise DataError(f"the privacy target {self.url} did not answer after {self.retries + 1} tries "
                                    f"({' '.join(str(reason).split())[:120]}); check that it is running.") from None
            time.sleep(0.2 * (attempt + 1))
        try:
            answer = json.loads(payload)
        except (ValueError, RecursionError):
            raise DataError(f"the privacy target {self.url} did not answer JSON; it must return a list of labels or "
                            "{\"labels\": [...]}.") from None
        labels = answer.get("labels") if isinstance(answer, dict) else answer
        if not isinstance(labels, list) or len(labels) != len(rows) or \
                not all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in labels):
            raise DataError(f"the privacy target {self.url} must answer one label (string or integer) per row sent: "
                            f"{len(rows)} in a JSON list or {{\"labels\": [...]}}.")
        return labels

    def _read(self, response, deadline: float) -> bytes:
        """The answer's body, refused when longer than ``max_bytes`` or still arriving at ``deadline``."""
        chunks, size = [], 0
        while True:
            chunk = response.read1(64 * 1024) if hasattr(response, "read1") else response.read(64 * 1024)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise DataError(f"the privacy target {self.url} answered more than {self.max_bytes:,} bytes; it must "
                                "return one label per row sent.")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the answer took longer than {self.timeout:g} s")
            chunks.append(chunk)


def load_model_target(path: Union[str, Path]) -> Callable:
    """The ``predict`` of a fitted scikit-learn model saved with joblib or pickle. Loading such a file runs code
    from it: load only a model file you made or trust."""
    path = Path(path)
    model = load_pickled_model(path, missing=f"privacy target {path} is neither an http(s) URL nor a model file; give "
                               "the path of your fitted model (joblib or pickle) or your endpoint's URL.")
    if not callable(getattr(model, "predict", None)):
        raise DataError(f"the object in {path} ({type(model).__name__}) has no predict method; save a fitted "
                        "classifier.")
    name = Path(path).name

    def predict(X: np.ndarray) -> np.ndarray:
        try:
            return model.predict(X)
        except Exception as err:  # noqa: BLE001 - the user's model refusing the rows is a data error
            reason = " ".join(str(err).split())[:160]
            raise DataError(f"the model in {name} cannot predict rows of {np.shape(X)[-1]} columns "
                            f"({type(err).__name__}: {reason}); give the --features or --embeddings it was trained "
                            "on.") from None

    return predict


def open_target(spec: Union[str, Path, Callable], **http_options) -> Callable:
    """A callable as it is; an ``http://`` / ``https://`` URL as :class:`HttpLabelTarget`; otherwise a model file
    (:func:`load_model_target`)."""
    if callable(spec):
        return spec
    text = str(spec)
    if text.lower().startswith(("http://", "https://")):
        return HttpLabelTarget(text, **http_options)
    return load_model_target(text)
