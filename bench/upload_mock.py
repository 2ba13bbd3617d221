#!/usr/bin/env python3
"""A local stand-in for both Polyteia API generations, for the upload benchmark
and scripts/check-network-path.

Upload-token API: POST /api answers with an upload token; POST /upload reads the
body to the end (as a real server must) and throws it away.
Session API: the key exchange, POST /api/upload/dataset/{id} (read and thrown away
like /upload), the ingest status (completed at once; 404 for the preflight probe's
ingest id, i.e. "may edit"), the dataset look-up and the terms status.

Prints the port it listens on. With --log FILE, appends one JSON line per request:
{"method", "path", "bytes", "complete"}. Only the standard library, so the
benchmark needs nothing installed.
"""
import argparse
import http.server
import json
import sys
import threading

LOG_LOCK = threading.Lock()


def rpc(result):
    return 200, {"json": result}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_file = None

    def log_message(self, *args):  # keep the benchmark output clean
        pass

    def read_body(self):
        """Reads the whole body in 1 MiB steps; keeps at most the first MiB."""
        length = int(self.headers.get("Content-Length", "0"))
        remaining, head = length, b""
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            if not head:
                head = chunk
            remaining -= len(chunk)
        return length, remaining, head

    def answer(self, length, remaining, head):
        complete = remaining == 0
        path = self.path
        if path == "/api":
            return 200, {"data": {"token": "bench-token"}}
        if path == "/upload" or path.startswith("/api/upload/dataset/"):
            sys.stderr.write(f"upload-mock: received {length - remaining} of {length} bytes\n")
            if not complete:
                return 400, {"error": "incomplete body"}
            if path == "/upload":
                return 200, "OK"
            return 200, {"ok": True, "ingestId": "dsig_mock_1", "size": length}
        if path == "/rpc/auth/personalAccessKey/exchange":
            return rpc({"token": "mock-session", "organizationId": "org_mock", "scope": "organization"})
        params = {}
        try:
            params = json.loads(head or b"{}").get("json") or {}
        except ValueError:
            pass
        if path == "/rpc/dataset/getDatasetIngestStatus":
            if params.get("ingestId") == "dsig_preflight_probe":
                return 404, {"json": {"defined": False, "code": "NOT_FOUND", "status": 404, "message": "no such ingest"}}
            return rpc({"status": "completed"})
        if path == "/rpc/dataset/getDatasetById":
            return rpc({"id": params.get("id", ""), "organizationId": "org_mock", "solutionId": "sol_mock", "name": "Mock"})
        if path == "/rpc/dpa/getMyAcceptanceStatus":
            return rpc({"acknowledged": True})
        return 404, "not found"

    def do_POST(self):
        length, remaining, head = self.read_body()
        status, body = self.answer(length, remaining, head)
        if self.log_file:
            line = json.dumps({"method": "POST", "path": self.path, "bytes": length - remaining, "complete": remaining == 0})
            with LOG_LOCK, open(self.log_file, "a", encoding="utf-8") as log:
                log.write(line + "\n")
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="append one JSON line per request to this file")
    args = parser.parse_args()
    Handler.log_file = args.log
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
