#!/usr/bin/env python3
"""A local stand-in for the Polyteia upload-token API, for scripts/check-deb.

    upload_mock.py PAK_FILE DATASET_ID OUT_FILE

POST /api answers with an upload token only for `Authorization: Bearer <key in
PAK_FILE>` and the token command for DATASET_ID (else 401 / 400); POST /upload
accepts only that token, checks the body against Content-Length, and writes the
multipart part's content (the Parquet file) to OUT_FILE. Prints the port it listens
on (127.0.0.1), then serves until killed. Only the standard library.
"""
import http.server
import json
import sys

TOKEN = "deb-check-upload-token"


def main():
    pak_file, dataset_id, out_file = sys.argv[1:4]
    with open(pak_file, encoding="utf-8") as f:
        pak = f.read().rstrip("\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("upload-mock: " + (fmt % args) + "\n")

        def answer(self, status, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if body.startswith("{") else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if len(body) != length:
                return self.answer(400, "incomplete body")
            if self.path == "/api":
                if self.headers.get("Authorization") != f"Bearer {pak}":
                    return self.answer(401, '{"error": "invalid personal access key"}')
                request = json.loads(body)
                expected = {"command": "generate_dataset_upload_token",
                            "params": {"id": dataset_id, "content_type": "application/vnd.apache.parquet"}}
                if request != expected:
                    return self.answer(400, '{"error": "unexpected token request"}')
                return self.answer(200, json.dumps({"data": {"token": TOKEN}}))
            if self.path == "/upload":
                if self.headers.get("X-Upload-Token") != TOKEN:
                    return self.answer(401, "bad upload token")
                content_type = self.headers.get("Content-Type", "")
                if "boundary=" not in content_type:
                    return self.answer(400, "not multipart")
                boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
                opening, closing = b"--" + boundary + b"\r\n", b"\r\n--" + boundary + b"--\r\n"
                if not (body.startswith(opening) and body.endswith(closing)):
                    return self.answer(400, "malformed multipart body")
                part = body[len(opening):len(body) - len(closing)]
                header_end = part.find(b"\r\n\r\n")
                if header_end < 0:
                    return self.answer(400, "multipart part without header")
                with open(out_file, "wb") as f:
                    f.write(part[header_end + 4:])
                return self.answer(200, "OK")
            return self.answer(404, "not found")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
