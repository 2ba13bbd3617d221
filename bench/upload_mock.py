#!/usr/bin/env python3
"""A local stand-in for the Polyteia upload-token API, for the upload benchmark.

POST /api answers with an upload token; POST /upload reads the body to the end
(as a real server must) and throws it away. Prints the port it listens on.
Only the standard library, so the benchmark needs nothing installed.
"""
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the benchmark output clean
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        if self.path == "/api":
            body = json.dumps({"data": {"token": "bench-token"}}).encode()
            status = 200
        elif self.path == "/upload":
            body = b"OK" if remaining == 0 else b"incomplete"
            status = 200 if remaining == 0 else 400
            sys.stderr.write(f"upload-mock: received {length - remaining} of {length} bytes\n")
        else:
            body, status = b"not found", 404
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
