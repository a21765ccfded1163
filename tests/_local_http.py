"""A small HTTP server on 127.0.0.1 for the download tests (no network needed).

Serves in-memory files with optional Range support and scripted misbehaviour: a response
that stops short of its Content-Length (then closes the connection), or a server that
ignores Range headers. Every request is logged (path, Range header, status, bytes sent).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.range_support = True
        self.truncate: dict[str, list[int]] = {}  # path -> byte counts to stop at, per request
        self.log: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                rng = self.headers.get("Range")
                entry = {"path": path, "range": rng, "status": None, "sent": 0}
                server.log.append(entry)
                if path not in server.files:
                    entry["status"] = 404
                    self.send_error(404)
                    return
                body = server.files[path]
                start = 0
                if rng and server.range_support:
                    start = int(rng.split("=", 1)[1].split("-", 1)[0])
                    if start >= len(body):
                        entry["status"] = 416
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(body) - 1}/{len(body)}")
                    entry["status"] = 206
                else:
                    self.send_response(200)
                    entry["status"] = 200
                chunk = body[start:]
                self.send_header("Content-Length", str(len(chunk)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                cuts = server.truncate.get(path)
                if cuts:
                    n = cuts.pop(0)
                    chunk = chunk[:n]
                    self.close_connection = True
                # Logged before writing: the client may finish reading (and the test check
                # the log) before this thread runs again.
                entry["sent"] = len(chunk)
                self.wfile.write(chunk)
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
