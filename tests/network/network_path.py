#!/usr/bin/env python3
"""The production network path, end to end, with the real binary and real servers
on loopback: HTTPS with a CA made here (openssl), a TLS-terminating front (stunnel)
before the API mock (bench/upload_mock.py, both API generations), and a forward
proxy with basic auth (squid). Run by scripts/check-network-path, which installs
the Debian packages; needs root (it adds a host name to /etc/hosts and removes it).

    network_path.py --binary PATH                   # every case; exit 1 if one fails
    network_path.py --binary PATH --bench-upload F  # F through the proxy and TLS, with peak RSS

The API's host name resolves to 127.0.0.1 through an /etc/hosts entry: the
connector never proxies loopback names or addresses, so a name is needed for the
proxy to be used. Every process started here is stopped and the entry removed at
the end, also when a case fails or the run is interrupted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOCK = ROOT / "bench" / "upload_mock.py"
HOSTS = Path("/etc/hosts")

PAK = "pak_network_test_4f1c9e"
DATASET = "ds_network_1"
PROXY_USER = "conn-user"
# Every character that must be percent-encoded in a URL's userinfo, and a non-ASCII one.
PROXY_PASSWORD = "p@ss:w/rd %x+ü#?"
PROXY_URL_PASSWORD = urllib.parse.quote(PROXY_PASSWORD, safe="")
SERVICES = ("good", "wrongname", "expired", "unknownca")


def die(message: str) -> None:
    print(f"network-path: error: {message}", file=sys.stderr)
    sys.exit(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, what: str, process: subprocess.Popen, log: Path | None = None) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {process.returncode} before listening: {detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 20 s")


def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


class Lab:
    """The servers of one run, in a temporary directory; a context manager."""

    def __init__(self, binary: Path):
        self.binary = binary
        self.processes: list[subprocess.Popen] = []
        self.hosts_marker = f"# polyteia-db-connector network-path test {os.getpid()}"
        self.dir = Path(tempfile.mkdtemp(prefix="connector-network-"))
        os.chmod(self.dir, 0o755)  # squid's helper runs as the user proxy
        tag = f"{os.getpid()}-{int(time.time()) % 100000}"
        self.host = f"api-{tag}.polyteia-connector.test"
        self.other_host = f"other-{tag}.polyteia-connector.test"

    def __enter__(self) -> "Lab":
        try:
            self.make_certificates()
            self.add_hosts_entry()
            self.start_mock()
            self.start_stunnel()
            self.start_squid()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- certificates -------------------------------------------------------

    def make_ca(self, name: str, subject: str) -> Path:
        ca = self.dir / name
        (ca / "newcerts").mkdir(parents=True)
        (ca / "index.txt").write_text("")
        (ca / "serial").write_text("1000\n")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3",
                "-keyout", "ca.key", "-out", "ca.pem", "-subj", f"/CN={subject}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                cwd=ca)
        (ca / "ca.cnf").write_text(
            "[ca]\ndefault_ca = test_ca\n"
            f"[test_ca]\ndir = {ca}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/newcerts\n"
            "serial = $dir/serial\ncertificate = $dir/ca.pem\nprivate_key = $dir/ca.key\n"
            "default_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n"
            "[any]\ncommonName = supplied\n"
        )
        return ca

    def issue(self, ca: Path, name: str, dns: str, start: str | None = None, end: str | None = None) -> None:
        """A server certificate `name.pem` / `name.key` for `dns`, signed by `ca`."""
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", f"/CN={dns}", cwd=self.dir)
        (self.dir / f"{name}.ext").write_text(
            f"subjectAltName=DNS:{dns}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        )
        validity = ["-startdate", start, "-enddate", end] if start and end else ["-days", "2"]
        openssl("ca", "-batch", "-notext", "-config", str(ca / "ca.cnf"), "-in", f"{name}.csr", "-out", f"{name}.pem",
                "-extfile", f"{name}.ext", *validity, cwd=self.dir)

    def make_certificates(self) -> None:
        ca = self.make_ca("ca", "Connector network-path test CA")
        unknown = self.make_ca("unknown-ca", "A CA nobody trusts")
        self.ca_file = ca / "ca.pem"
        self.issue(ca, "good", self.host)
        self.issue(ca, "wrongname", self.other_host)
        self.issue(ca, "expired", self.host, start="20200101000000Z", end="20200201000000Z")
        self.issue(unknown, "unknownca", self.host)
        # A directory as SSL_CERT_DIR expects it: PEM files with their hash links.
        self.ca_dir = self.dir / "ca-dir"
        self.ca_dir.mkdir()
        shutil.copy(self.ca_file, self.ca_dir / "connector-test-ca.pem")
        openssl("rehash", str(self.ca_dir), cwd=self.dir)

    # -- /etc/hosts ---------------------------------------------------------

    def add_hosts_entry(self) -> None:
        with HOSTS.open("a", encoding="utf-8") as hosts:
            hosts.write(f"127.0.0.1 {self.host} {self.other_host} {self.hosts_marker}\n")
        self.hosts_added = True

    def remove_hosts_entry(self) -> None:
        if not getattr(self, "hosts_added", False):
            return
        lines = HOSTS.read_text(encoding="utf-8").splitlines(keepends=True)
        # Rewritten in place (same inode): /etc/hosts may be a bind mount.
        with HOSTS.open("w", encoding="utf-8") as hosts:
            hosts.writelines(line for line in lines if self.hosts_marker not in line)
        self.hosts_added = False

    # -- servers ------------------------------------------------------------

    def spawn(self, args: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def start_mock(self) -> None:
        self.mock_log = self.dir / "mock-requests.jsonl"
        self.mock_log.touch()
        port_file = self.dir / "mock.port"
        with port_file.open("w") as out:
            mock = self.spawn([sys.executable, str(MOCK), "--log", str(self.mock_log)], stdout=out,
                              stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_file.read_text().strip():
            if mock.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API mock did not start")
            time.sleep(0.05)
        self.mock_port = int(port_file.read_text().split()[0])

    def start_stunnel(self) -> None:
        """One stunnel, one TLS service per certificate, all in front of the mock."""
        self.tls_ports = {name: free_port() for name in SERVICES}
        self.stunnel_log = self.dir / "stunnel.log"
        config = [f"foreground = yes", "pid =", f"output = {self.stunnel_log}", "debug = 5", "syslog = no", ""]
        for name, port in self.tls_ports.items():
            config += [f"[{name}]", f"accept = 127.0.0.1:{port}", f"connect = 127.0.0.1:{self.mock_port}",
                       f"cert = {self.dir / (name + '.pem')}", f"key = {self.dir / (name + '.key')}", ""]
        (self.dir / "stunnel.conf").write_text("\n".join(config))
        stunnel = self.spawn(["stunnel4", str(self.dir / "stunnel.conf")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.STDOUT)
        for name, port in self.tls_ports.items():
            wait_for_port(port, f"stunnel [{name}]", stunnel, self.stunnel_log)

    def start_squid(self) -> None:
        squid_dir = self.dir / "squid"
        squid_dir.mkdir()
        shutil.chown(squid_dir, "proxy", "proxy")
        hashed = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"], input=PROXY_PASSWORD, capture_output=True,
                                text=True, check=True).stdout.strip()
        passwd = squid_dir / "passwd"
        passwd.write_text(f"{PROXY_USER}:{hashed}\n")
        shutil.chown(passwd, "proxy", "proxy")
        self.proxy_port = free_port()
        self.access_log = squid_dir / "access.log"
        self.squid_pid = squid_dir / "squid.pid"
        cache_log = squid_dir / "cache.log"
        (squid_dir / "squid.conf").write_text(f"""
http_port 127.0.0.1:{self.proxy_port}
visible_hostname connector-test-proxy
pid_filename {self.squid_pid}
cache_effective_user proxy
access_log stdio:{self.access_log}
cache_log {cache_log}
cache_store_log none
cache deny all
coredump_dir {squid_dir}
pinger_enable off
hosts_file /etc/hosts
auth_param basic program /usr/lib/squid/basic_ncsa_auth {passwd}
auth_param basic realm connector-test
acl authenticated proxy_auth REQUIRED
http_access deny !authenticated
http_access allow authenticated
http_access deny all
shutdown_lifetime 1 seconds
""")
        squid = self.spawn(["squid", "-N", "-f", str(squid_dir / "squid.conf")], stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT)
        wait_for_port(self.proxy_port, "squid", squid, cache_log)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        self.remove_hosts_entry()
        if os.environ.get("NETWORK_PATH_KEEP_DIR"):
            print(f"network-path: kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- observations -------------------------------------------------------

    def base_url(self, service: str = "good") -> str:
        return f"https://{self.host}:{self.tls_ports[service]}"

    def proxy_url(self, password: str = PROXY_URL_PASSWORD) -> str:
        return f"http://{PROXY_USER}:{password}@127.0.0.1:{self.proxy_port}"

    def mock_requests(self) -> list[dict]:
        return [json.loads(line) for line in self.mock_log.read_text().splitlines() if line.strip()]

    def access_lines(self) -> list[str]:
        return self.access_log.read_text(errors="replace").splitlines() if self.access_log.exists() else []

    def stunnel_connections(self, service: str) -> int:
        text = self.stunnel_log.read_text(errors="replace") if self.stunnel_log.exists() else ""
        return len(re.findall(rf"Service \[{service}\] accepted connection", text))


# ---------------------------------------------------------------------------
# Running the connector


class Run:
    def __init__(self, code: int, stdout: str, stderr: str):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cases:
    def __init__(self, lab: Lab):
        self.lab = lab
        self.failures: list[str] = []
        self.parquet = lab.dir / "upload.parquet"

    def base_env(self, base_url: str, session: bool = False, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PERSONAL_ACCESS_TOKEN": PAK,
            "DATASET_ID": DATASET,
            "POLYTEIA_BASE_URL": base_url,
            "SOURCE_DATABASE_TYPE": "duckdb",
            "SOURCE_DATABASE_NAME": ":memory:",
            "SOURCE_DATABASE_SQL_QUERY": "SELECT i AS id, 'row ' || i AS label FROM range(1000) t(i)",
            "TEMP_DIR": str(self.lab.dir),
            "UPLOAD_MAX_ATTEMPTS": "3",
            "UPLOAD_MAX_BACKOFF": "1s",
            "CONNECTOR_RETRY_BASE_MS": "50",
            "HTTP_TIMEOUT": "15s",
            "INGEST_POLL_INTERVAL": "100ms",
            "LOG_LEVEL": "debug",
        }
        if session:
            env["POLYTEIA_ORGANIZATION_SLUG"] = "network-test"
        env.update(extra)
        return env

    def connector(self, args: list[str], env: dict[str, str]) -> Run:
        result = subprocess.run([str(self.lab.binary), *args], env=env, capture_output=True, text=True, timeout=180,
                                cwd=self.lab.dir)
        return Run(result.returncode, result.stdout, result.stderr)

    def upload(self, env: dict[str, str]) -> Run:
        return self.connector(["upload", "--file", str(self.parquet)], env)

    # -- assertions ---------------------------------------------------------

    def expect(self, condition: bool, message: str, run: Run | None = None) -> None:
        if not condition:
            detail = f"\n      connector exit {run.code}, output:\n{indent(run.output)}" if run else ""
            raise AssertionError(message + detail)

    def expect_exit(self, run: Run, code: int) -> None:
        self.expect(run.code == code, f"expected exit code {code}, got {run.code}", run)

    def expect_in(self, text: str, run: Run) -> None:
        self.expect(text in run.stderr, f"expected {text!r} in the output", run)

    def expect_no_secret(self, run: Run) -> None:
        basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
        for secret in (PAK, PROXY_PASSWORD, PROXY_URL_PASSWORD, basic, "p@ss:w"):
            self.expect(secret not in run.output, f"a secret ({secret[:3]}…) appears in the output", run)

    def new_mock_requests(self, before: int) -> list[dict]:
        return self.lab.mock_requests()[before:]

    def new_access_lines(self, before: int, wanted: str | None) -> list[str]:
        """squid logs a tunnel when it closes: wait a little for `wanted`."""
        deadline = time.monotonic() + 5
        while True:
            lines = self.lab.access_lines()[before:]
            if wanted is None or any(wanted in line for line in lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)

    def expect_uploaded(self, before: int, path: str, run: Run) -> None:
        uploads = [r for r in self.new_mock_requests(before) if r["path"] == path]
        size = self.parquet.stat().st_size
        self.expect(len(uploads) == 1 and uploads[0]["complete"] and uploads[0]["bytes"] > size,
                    f"expected one complete upload to {path} larger than the file ({size} bytes), got {uploads}", run)

    def expect_nothing_reached_the_api(self, before: int, run: Run) -> None:
        self.expect(self.new_mock_requests(before) == [],
                    f"the API mock got requests: {self.new_mock_requests(before)}", run)

    def expect_tunnel(self, before: int, run: Run) -> list[str]:
        target = f"CONNECT {self.lab.host}:{self.lab.tls_ports['good']} {PROXY_USER}"
        lines = self.new_access_lines(before, target)
        tunnels = [line for line in lines if target in line and "TCP_TUNNEL/200" in line]
        self.expect(tunnels, f"squid logged no tunnel {target!r}; new access.log lines: {lines}", run)
        return tunnels

    # -- the cases ----------------------------------------------------------

    def case_prepare_a_parquet_file(self) -> None:
        run = self.connector(["export", "--output", str(self.parquet)], self.base_env("https://unused.example"))
        self.expect_exit(run, 0)

    def case_tls_trusted_through_ssl_cert_file_upload_token_api(self) -> None:
        before = len(self.lab.mock_requests())
        run = self.upload(self.base_env(self.lab.base_url(), SSL_CERT_FILE=str(self.lab.ca_file)))
        self.expect_exit(run, 0)
        self.expect_uploaded(before, "/upload", run)
        self.expect_no_secret(run)

    def case_tls_trusted_through_ssl_cert_dir_session_api_run(self) -> None:
        before = len(self.lab.mock_requests())
        run = self.connector(["run"], self.base_env(self.lab.base_url(), session=True, SSL_CERT_DIR=str(self.lab.ca_dir)))
        self.expect_exit(run, 0)
        paths = [r["path"] for r in self.new_mock_requests(before)]
        self.expect(paths[:2] == ["/rpc/auth/personalAccessKey/exchange", f"/api/upload/dataset/{DATASET}"]
                    and paths[-1] == "/rpc/dataset/getDatasetIngestStatus", f"unexpected requests {paths}", run)
        self.expect_in("ingest dsig_mock_1 is completed", run)

    def tls_refused(self, service: str, env_extra: dict[str, str], reason: str, hint: str) -> None:
        before = len(self.lab.mock_requests())
        connections = self.lab.stunnel_connections(service)
        run = self.upload(self.base_env(self.lab.base_url(service), **env_extra))
        self.expect_exit(run, 15)
        self.expect_in("upload token request failed: TLS error: ", run)
        self.expect_in(reason, run)
        self.expect_in(hint, run)
        self.expect_in("error_class=api_tls", run)
        self.expect("retrying" not in run.stderr, "a TLS failure must not be retried", run)
        self.expect(self.lab.stunnel_connections(service) == connections + 1,
                    f"expected exactly one TLS connection to [{service}], got "
                    f"{self.lab.stunnel_connections(service) - connections}", run)
        self.expect_nothing_reached_the_api(before, run)

    def case_wrong_host_name_is_refused(self) -> None:
        self.tls_refused("wrongname", {"SSL_CERT_FILE": str(self.lab.ca_file)}, "certificate not valid for name",
                         "the certificate is issued for another host: check the host of POLYTEIA_BASE_URL")

    def case_expired_certificate_is_refused(self) -> None:
        self.tls_refused("expired", {"SSL_CERT_FILE": str(self.lab.ca_file)}, "certificate expired",
                         "the certificate is outside its validity period")

    def case_unknown_ca_is_refused(self) -> None:
        self.tls_refused("unknownca", {"SSL_CERT_FILE": str(self.lab.ca_file)}, "UnknownIssuer",
                         "the certificate is not signed by a CA the connector trusts: give the CA certificate")

    def case_private_ca_without_ssl_cert_file_is_refused(self) -> None:
        # The operating system's store does not know the test CA.
        self.tls_refused("good", {}, "UnknownIssuer", "PEM file in SSL_CERT_FILE")

    def case_missing_ssl_cert_file_is_a_configuration_error(self) -> None:
        missing = self.lab.dir / "no-such-ca.pem"
        run = self.upload(self.base_env(self.lab.base_url(), SSL_CERT_FILE=str(missing)))
        self.expect_exit(run, 3)
        self.expect_in(f"SSL_CERT_FILE: cannot read {missing}", run)

    def case_https_proxy_with_percent_encoded_credentials(self) -> None:
        before, lines_before = len(self.lab.mock_requests()), len(self.lab.access_lines())
        run = self.upload(self.base_env(self.lab.base_url(), SSL_CERT_FILE=str(self.lab.ca_file),
                                        HTTPS_PROXY=self.lab.proxy_url()))
        self.expect_exit(run, 0)
        self.expect_uploaded(before, "/upload", run)
        self.expect_tunnel(lines_before, run)
        self.expect_in(f"using the proxy 127.0.0.1:{self.lab.proxy_port} for {self.lab.host}", run)
        self.expect_no_secret(run)

    def case_lower_case_https_proxy_session_api(self) -> None:
        before, lines_before = len(self.lab.mock_requests()), len(self.lab.access_lines())
        run = self.upload(self.base_env(self.lab.base_url(), session=True, SSL_CERT_FILE=str(self.lab.ca_file),
                                        https_proxy=self.lab.proxy_url()))
        self.expect_exit(run, 0)
        self.expect_uploaded(before, f"/api/upload/dataset/{DATASET}", run)
        self.expect_tunnel(lines_before, run)
        self.expect_no_secret(run)

    def case_all_proxy(self) -> None:
        before, lines_before = len(self.lab.mock_requests()), len(self.lab.access_lines())
        run = self.upload(self.base_env(self.lab.base_url(), SSL_CERT_FILE=str(self.lab.ca_file),
                                        ALL_PROXY=self.lab.proxy_url()))
        self.expect_exit(run, 0)
        self.expect_uploaded(before, "/upload", run)
        self.expect_tunnel(lines_before, run)
        self.expect_no_secret(run)

    def case_no_proxy_bypasses_the_proxy(self) -> None:
        before, lines_before = len(self.lab.mock_requests()), len(self.lab.access_lines())
        run = self.upload(self.base_env(self.lab.base_url(), SSL_CERT_FILE=str(self.lab.ca_file),
                                        HTTPS_PROXY=self.lab.proxy_url(), NO_PROXY="polyteia-connector.test"))
        self.expect_exit(run, 0)
        self.expect_uploaded(before, "/upload", run)
        self.expect_in(f"not using a proxy for {self.lab.host}: NO_PROXY exempts the host", run)
        time.sleep(1)
        self.expect(self.lab.access_lines()[lines_before:] == [],
                    f"NO_PROXY: squid logged {self.lab.access_lines()[lines_before:]}", run)

    def case_proxy_and_ca_file_from_the_env_file(self) -> None:
        env_file = self.lab.dir / "connector.env"
        env_file.write_text(f"HTTPS_PROXY='{self.lab.proxy_url()}'\nSSL_CERT_FILE={self.lab.ca_file}\n")
        before, lines_before = len(self.lab.mock_requests()), len(self.lab.access_lines())
        run = self.connector(["upload", "--env-file", str(env_file), "--file", str(self.parquet)],
                             self.base_env(self.lab.base_url()))
        self.expect_exit(run, 0)
        self.expect_uploaded(before, "/upload", run)
        self.expect_tunnel(lines_before, run)
        self.expect_no_secret(run)

    def case_the_environment_wins_over_the_env_file(self) -> None:
        env_file = self.lab.dir / "connector-wrong.env"
        env_file.write_text(f"HTTPS_PROXY='{self.lab.proxy_url('wrong-password')}'\nSSL_CERT_FILE={self.lab.ca_file}\n")
        lines_before = len(self.lab.access_lines())
        run = self.connector(["upload", "--env-file", str(env_file), "--file", str(self.parquet)],
                             self.base_env(self.lab.base_url(), HTTPS_PROXY=self.lab.proxy_url()))
        self.expect_exit(run, 0)
        self.expect_tunnel(lines_before, run)

    def case_proxy_refusing_the_credentials(self) -> None:
        before, lines_before = len(self.lab.mock_requests()), len(self.lab.access_lines())
        wrong = urllib.parse.quote("wrong p@ss", safe="")
        run = self.upload(self.base_env(self.lab.base_url(), SSL_CERT_FILE=str(self.lab.ca_file),
                                        HTTPS_PROXY=self.lab.proxy_url(wrong)))
        self.expect_exit(run, 16)
        self.expect_in(f"the proxy 127.0.0.1:{self.lab.proxy_port} (from HTTPS_PROXY) refused to connect to the API: "
                       "HTTP 407 Proxy Authentication Required", run)
        self.expect_in("give the proxy user and password in HTTPS_PROXY", run)
        self.expect_in("error_class=proxy_refused", run)
        self.expect("retrying" not in run.stderr, "a refused proxy must not be retried", run)
        lines = self.new_access_lines(lines_before, "TCP_DENIED/407")
        denied = [line for line in lines if "TCP_DENIED/407" in line and "CONNECT" in line]
        self.expect(len(denied) == 1, f"expected one denied CONNECT in squid's log, got {lines}", run)
        self.expect_nothing_reached_the_api(before, run)
        self.expect("wrong p@ss" not in run.output and wrong not in run.output, "the wrong password is shown", run)

    def case_proxy_down_is_retried(self) -> None:
        down = free_port()
        run = self.upload(self.base_env(self.lab.base_url(), SSL_CERT_FILE=str(self.lab.ca_file),
                                        HTTPS_PROXY=f"http://{PROXY_USER}:{PROXY_URL_PASSWORD}@127.0.0.1:{down}"))
        self.expect_exit(run, 12)
        self.expect_in("stayed unavailable after 3 attempts", run)
        self.expect_in(f"connection refused", run)
        self.expect_in(f"(through the proxy 127.0.0.1:{down})", run)
        self.expect(run.stderr.count("retrying in") == 2, "expected two retries", run)
        self.expect_no_secret(run)

    def case_check_reports_the_network_path_through_the_proxy(self) -> None:
        lines_before = len(self.lab.access_lines())
        run = self.connector(["check"], self.base_env(self.lab.base_url(), session=True,
                                                      SSL_CERT_FILE=str(self.lab.ca_file),
                                                      HTTPS_PROXY=self.lab.proxy_url(), LOG_LEVEL="info"))
        self.expect_exit(run, 0)
        self.expect_in(f"PASS network path: {self.lab.base_url()} reached through the proxy "
                       f"127.0.0.1:{self.lab.proxy_port} (HTTPS_PROXY); TLS verified with the 1 CA certificate of "
                       f"SSL_CERT_FILE={self.lab.ca_file}", run)
        self.expect_in("PASS polyteia key: the personal access key was exchanged for a session", run)
        self.expect_in("check finished: 9 passed, 0 failed, 0 skipped", run)
        self.expect_tunnel(lines_before, run)
        self.expect_no_secret(run)

    def case_check_reports_a_refused_certificate_and_skips_the_key(self) -> None:
        run = self.connector(["check"], self.base_env(self.lab.base_url("unknownca"),
                                                      SSL_CERT_FILE=str(self.lab.ca_file), LOG_LEVEL="info"))
        self.expect_exit(run, 14)
        self.expect_in("FAIL network path: upload token request failed: TLS error", run)
        self.expect_in("exit_code=15", run)
        self.expect_in("SKIP polyteia key: needs a working network path to the API", run)

    def run_all(self) -> int:
        names = [name for name in dir(self) if name.startswith("case_")]
        # Definition order: the first case makes the file the others upload.
        names.sort(key=lambda name: getattr(Cases, name).__code__.co_firstlineno)
        for name in names:
            title = name.removeprefix("case_").replace("_", " ")
            started = time.monotonic()
            try:
                getattr(self, name)()
            except AssertionError as failure:
                self.failures.append(title)
                print(f"FAIL {title}: {failure}")
            else:
                print(f"ok   {title} ({time.monotonic() - started:.1f} s)")
            if name == "case_prepare_a_parquet_file" and self.failures:
                break
        print(f"network-path: {len(names) - len(self.failures)} of {len(names)} cases passed")
        return 1 if self.failures else 0


def indent(text: str) -> str:
    return "\n".join("        " + line for line in text.strip().splitlines()[-40:])


def bench_upload(lab: Lab, file: Path) -> int:
    """`connector upload` of `file` through squid and stunnel, under GNU time."""
    timing = lab.dir / "time.txt"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PERSONAL_ACCESS_TOKEN": PAK, "DATASET_ID": DATASET,
        "POLYTEIA_BASE_URL": lab.base_url(), "SSL_CERT_FILE": str(lab.ca_file), "HTTPS_PROXY": lab.proxy_url(),
        "SOURCE_DATABASE_TYPE": "duckdb", "SOURCE_DATABASE_NAME": ":memory:", "SOURCE_DATABASE_SQL_QUERY": "SELECT 1",
        "LOG_LEVEL": "warn",
    }
    result = subprocess.run(["/usr/bin/time", "-v", "-o", str(timing), str(lab.binary), "upload", "--file", str(file)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    stats = dict(line.strip().split(": ", 1) for line in timing.read_text().splitlines() if ": " in line)
    wall = sum(float(part) * 60 ** i for i, part in enumerate(reversed(stats["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":"))))
    rss_mib = int(stats["Maximum resident set size (kbytes)"]) / 1024
    size = file.stat().st_size
    uploads = [r for r in lab.mock_requests() if r["path"] == "/upload"]
    tunnels = [line for line in lab.access_lines() if "TCP_TUNNEL/200" in line]
    if not (uploads and uploads[-1]["complete"] and uploads[-1]["bytes"] > size and tunnels):
        print(f"bench: the upload did not arrive whole through the proxy: {uploads} {tunnels}", file=sys.stderr)
        return 1
    print(f"bench: through squid (CONNECT, basic auth) and TLS (stunnel): uploaded {size / 2**30:.2f} GiB in "
          f"{wall:.1f} s = {size / 2**20 / wall:.0f} MiB/s; peak RSS {rss_mib:.1f} MiB")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="The connector's network path against real servers on loopback.")
    parser.add_argument("--binary", required=True, type=Path, help="the connector binary to test")
    parser.add_argument("--bench-upload", type=Path, metavar="FILE", help="only upload FILE through the proxy, timed")
    args = parser.parse_args()
    if os.geteuid() != 0:
        die("needs root: it adds a test host name to /etc/hosts (and removes it)")
    for tool in ("openssl", "squid", "stunnel4") + (("/usr/bin/time",) if args.bench_upload else ()):
        if not shutil.which(tool):
            die(f"{tool} is not installed (scripts/check-network-path installs it)")
    if not args.binary.is_file():
        die(f"no connector binary at {args.binary}")
    # Stop cleanly (and so clean up) on SIGTERM too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Lab(args.binary.resolve()) as lab:
        print(f"network-path: API {lab.host} -> stunnel {lab.tls_ports} -> mock 127.0.0.1:{lab.mock_port}; "
              f"squid 127.0.0.1:{lab.proxy_port}")
        if args.bench_upload:
            return bench_upload(lab, args.bench_upload)
        return Cases(lab).run_all()


if __name__ == "__main__":
    sys.exit(main())
