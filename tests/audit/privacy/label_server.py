"""A label-only model endpoint for the privacy tests: ``python label_server.py MODEL PORT LOG``.

POST / with {"inputs": [[...]]} answers the fitted model's labels as a JSON list and appends the request body's keys
and row count to LOG; POST /redirect answers 302 to another host; POST /slow sleeps past any test timeout;
POST /broken answers 500; /garbage answers no HTTP; /drip sends its answer a byte every 0.2 s; /huge answers 4 KB;
/notjson answers text, /deep JSON nested 100,000 deep; /short answers one label fewer than the rows.
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib
import numpy as np

model = joblib.load(sys.argv[1])
port, log = int(sys.argv[2]), sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "keys": sorted(body), "rows": len(body["inputs"]),
                                "headers": sorted(k.lower() for k in self.headers.keys())}) + "\n")
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://example.com/")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(5)
        if self.path == "/garbage":
            self.wfile.write(b"garbage\r\n\r\n")
            return
        if self.path in ("/drip", "/huge", "/notjson", "/deep"):
            body = {"/drip": b"[" + b" " * 50 + b"]", "/huge": b" " * 4096 + b"[]", "/notjson": b"labels: 1",
                    "/deep": b"[" * 100_000 + b"]" * 100_000}[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(0, len(body), 1 if self.path == "/drip" else len(body)):
                self.wfile.write(body[i:i + (1 if self.path == "/drip" else len(body))])
                self.wfile.flush()
                if self.path == "/drip":
                    time.sleep(0.2)
            return
        if self.path == "/short":
            body["inputs"] = body["inputs"][1:]
        if self.path == "/broken":
            self.send_response(500)
            self.end_headers()
            return
        answer = json.dumps([str(v) for v in model.predict(np.asarray(body["inputs"]))]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
