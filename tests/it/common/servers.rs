//! Throw-away database servers and certificates for the tests that must
//! change a server's configuration (TLS, restarts): each instance keeps
//! everything it writes (data, socket, logs, temporary files) in its own
//! temporary directory, listens on its own port, never touches the shared
//! PostgreSQL and MariaDB servers, and is stopped and removed when dropped —
//! also when the test fails.
//!
//! Neither server can be told to pick a free port itself and report it, so
//! each start tries a port that is free at that moment and, when someone else
//! took it before the server could bind it, tries again with another.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// How many ports a server start tries before giving up.
const PORT_ATTEMPTS: usize = 5;

/// The newest installed PostgreSQL's programs (initdb, pg_ctl).
fn pg_bin() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("/usr/lib/postgresql: {e} (is PostgreSQL installed? scripts/ensure-services installs it)")
        })?
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_string())
}

/// Whether a server's log tells that its port was taken.
fn port_was_taken(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("errno: 98") || log.contains("error: 98")
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn user_ids(user: &str) -> Result<(u32, u32), String> {
    let uid = run(Command::new("id").args(["-u", user]), "id -u")?.trim().parse().map_err(|e| format!("{e}"))?;
    let gid = run(Command::new("id").args(["-g", user]), "id -g")?.trim().parse().map_err(|e| format!("{e}"))?;
    Ok((uid, gid))
}

/// A temporary directory (under /tmp, so that the service users can reach
/// it) owned by `user`.
fn owned_tempdir(prefix: &str, user: &str) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in("/tmp").map_err(|e| e.to_string())?;
    let (uid, gid) = user_ids(user)?;
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
        .map_err(|e| format!("chown {}: {e}", dir.path().display()))?;
    Ok(dir)
}

fn chown_to(path: &Path, user: &str, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let (uid, gid) = user_ids(user)?;
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// Certificates

/// A CA, a server certificate it signed, and an unrelated CA.
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub wrong_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl Certs {
    /// `names` become the server certificate's subjectAltName, e.g.
    /// `["DNS:localhost", "IP:127.0.0.1"]`; the first one's value is its CN.
    pub fn generate(names: &[&str]) -> Result<Certs, String> {
        let dir = tempfile::Builder::new().prefix("connector-certs-").tempdir_in("/tmp").map_err(|e| e.to_string())?;
        let d = dir.path();
        let openssl = |args: &[&str], what: &str| run(Command::new("openssl").args(args).current_dir(d), what);
        for (name, cn) in [("ca", "polyteia-db-connector test CA"), ("wrong-ca", "an unrelated CA")] {
            openssl(
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.crt"),
                    "-subj",
                    &format!("/CN={cn}"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
                "openssl req (CA)",
            )?;
        }
        let cn = names.first().and_then(|n| n.split_once(':')).map(|(_, v)| v).unwrap_or("localhost");
        openssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                &format!("/CN={cn}"),
            ],
            "openssl req (server)",
        )?;
        std::fs::write(
            d.join("server.ext"),
            format!(
                "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
                names.join(",")
            ),
        )
        .map_err(|e| e.to_string())?;
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                "server.crt",
                "-extfile",
                "server.ext",
            ],
            "openssl x509 (sign)",
        )?;
        Ok(Certs {
            ca: d.join("ca.crt"),
            wrong_ca: d.join("wrong-ca.crt"),
            server_cert: d.join("server.crt"),
            server_key: d.join("server.key"),
            dir,
        })
    }

    /// Copies the server certificate and key into `dir` for `user` (the
    /// servers insist on a private key only they can read).
    pub fn install_server_files(&self, dir: &Path, user: &str) -> Result<(PathBuf, PathBuf, PathBuf), String> {
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        let ca = dir.join("ca.crt");
        for (from, to, mode) in
            [(&self.server_cert, &cert, 0o644), (&self.server_key, &key, 0o600), (&self.ca, &ca, 0o644)]
        {
            std::fs::copy(from, to).map_err(|e| e.to_string())?;
            chown_to(to, user, mode)?;
        }
        Ok((cert, key, ca))
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL

/// A private PostgreSQL cluster: `initdb` into a temporary directory as
/// user postgres, listening on `localhost` at a free port, with its socket
/// in the same directory. The superuser logs in over the socket (trust);
/// TCP logins follow the `pg_hba.conf` lines given.
pub struct TempPostgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
}

impl TempPostgres {
    /// `conf` is appended to postgresql.conf; `hba` are the TCP rules of
    /// pg_hba.conf (the socket is always trusted). `setup` may place files
    /// (certificates) in the directory before the server starts.
    pub fn start(
        conf: &str,
        hba: &str,
        setup: impl FnOnce(&Path) -> Result<(), String>,
    ) -> Result<TempPostgres, String> {
        let bin = pg_bin()?;
        let dir = owned_tempdir("connector-pg-", "postgres")?;
        let data = dir.path().join("data");
        run(
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin.join("initdb")).args([
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]),
            "initdb",
        )?;
        setup(dir.path())?;
        // The port is in a file of its own, rewritten for each port tried.
        let base = format!(
            "\n# connector test instance\ninclude = 'port.conf'\nlisten_addresses = 'localhost'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\nmax_connections = 40\n{conf}\n",
            dir.path().display()
        );
        append(&data.join("postgresql.conf"), &base)?;
        std::fs::write(data.join("pg_hba.conf"), format!("local all all trust\n{hba}\n")).map_err(|e| e.to_string())?;
        chown_to(&data.join("pg_hba.conf"), "postgres", 0o600)?;
        let mut pg = TempPostgres { dir, port: 0, data, bin };
        for attempt in 1..=PORT_ATTEMPTS {
            pg.port = free_port();
            std::fs::write(pg.data.join("port.conf"), format!("port = {}\n", pg.port)).map_err(|e| e.to_string())?;
            chown_to(&pg.data.join("port.conf"), "postgres", 0o600)?;
            let log_before = pg.server_log().len();
            let started = pg.ctl(&["start", "-w", "-t", "60", "-l", pg.log().to_str().unwrap()]);
            // Listening on `localhost`, the server also starts when only one of
            // 127.0.0.1 and ::1 could be bound: that counts as taken too.
            let taken = port_was_taken(pg.server_log().get(log_before..).unwrap_or_default());
            match started {
                Ok(_) if !taken => return Ok(pg),
                _ if taken && attempt < PORT_ATTEMPTS => {
                    let _ = pg.ctl(&["stop", "-w", "-m", "immediate"]);
                }
                Ok(_) => return Err(format!("port {} was taken:\n{}", pg.port, pg.server_log())),
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last attempt returns")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn ctl(&self, args: &[&str]) -> Result<String, String> {
        run(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", self.data.to_str().unwrap()])
                .args(args),
            &format!("pg_ctl {}", args.join(" ")),
        )
        .map_err(|e| format!("{e}\nserver log:\n{}", std::fs::read_to_string(self.log()).unwrap_or_default()))
    }

    pub fn stop(&self) {
        self.ctl(&["stop", "-w", "-m", "fast"]).unwrap();
    }

    pub fn start_again(&self) {
        self.ctl(&["start", "-w", "-t", "60", "-l", self.log().to_str().unwrap()]).unwrap();
    }

    pub fn restart(&self) {
        self.ctl(&["restart", "-w", "-t", "60", "-m", "fast", "-l", self.log().to_str().unwrap()]).unwrap();
    }

    /// SQL as the superuser, over the socket.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        run(
            Command::new("psql").args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h"]).arg(self.dir.path()).args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ]),
            &format!("psql {sql}"),
        )
        .unwrap()
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self.ctl(&["stop", "-w", "-m", "immediate"]);
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// MariaDB

/// A private MariaDB server (`mariadb-install-db` into a temporary directory,
/// `mariadbd` as user mysql on 127.0.0.1 at a free port; its socket, logs and
/// temporary files in the same directory). root logs in over that socket.
pub struct TempMariadb {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl TempMariadb {
    /// `args` are extra `mariadbd` options (e.g. `--ssl-cert=…`). `setup` may
    /// place files in the directory before the server starts.
    pub fn start(
        args: &[String],
        setup: impl FnOnce(&Path) -> Result<Vec<String>, String>,
    ) -> Result<TempMariadb, String> {
        for tool in ["mariadb-install-db", "mariadbd", "mariadb"] {
            if Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
                && !Path::new("/usr/sbin").join(tool).is_file()
            {
                return Err(format!("{tool} not found"));
            }
        }
        let dir = owned_tempdir("connector-mariadb-", "mysql")?;
        let data = dir.path().join("data");
        // Temporary tables and files go here, not to the shared /tmp.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        chown_to(&tmp, "mysql", 0o700)?;
        run(
            Command::new("mariadb-install-db").args([
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                "--user=mysql",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                &format!("--tmpdir={}", tmp.display()),
            ]),
            "mariadb-install-db",
        )?;
        let mut extra = setup(dir.path())?;
        extra.extend(args.iter().cloned());
        let mut server = TempMariadb { dir, port: 0, child: None };
        for attempt in 1..=PORT_ATTEMPTS {
            server.port = free_port();
            let log_before = server.error_log().len();
            match server.spawn_and_wait(&data, &tmp, &extra) {
                Ok(()) => {
                    let tmpdir = server.sql("SELECT @@tmpdir");
                    if tmpdir.trim() != tmp.to_str().unwrap() {
                        return Err(format!("mariadbd uses tmpdir {tmpdir:?}, not {}", tmp.display()));
                    }
                    return Ok(server);
                }
                Err(_)
                    if attempt < PORT_ATTEMPTS
                        && port_was_taken(server.error_log().get(log_before..).unwrap_or_default()) => {}
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Starts `mariadbd` on `self.port` and waits until it answers.
    fn spawn_and_wait(&mut self, data: &Path, tmp: &Path, extra: &[String]) -> Result<(), String> {
        let mariadbd = if Path::new("/usr/sbin/mariadbd").is_file() { "/usr/sbin/mariadbd" } else { "mariadbd" };
        let dir = self.dir.path();
        let child = Command::new(mariadbd)
            .args([
                "--no-defaults".to_string(),
                format!("--datadir={}", data.display()),
                format!("--tmpdir={}", tmp.display()),
                format!("--port={}", self.port),
                "--bind-address=127.0.0.1".into(),
                format!("--socket={}", dir.join("sock").display()),
                format!("--pid-file={}", dir.join("pid").display()),
                format!("--log-error={}", dir.join("error.log").display()),
                "--user=mysql".into(),
                "--skip-log-bin".into(),
                "--innodb-buffer-pool-size=16M".into(),
                "--skip-name-resolve".into(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start mariadbd: {e}"))?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if self.try_sql("SELECT 1").is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!("mariadbd exited ({status}):\n{}", self.error_log()));
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("mariadbd did not come up in 60 s:\n{}", self.error_log()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        run(
            Command::new("mariadb")
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.dir.path().join("sock").display()))
                .args(["-u", "root", "--batch", "--skip-column-names", "-e", sql]),
            &format!("mariadb {sql}"),
        )
    }

    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql).unwrap()
    }
}

impl Drop for TempMariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
