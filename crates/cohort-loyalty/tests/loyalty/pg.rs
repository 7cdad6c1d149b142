//! A throwaway PostgreSQL server for the conformance suite: `initdb` in a
//! temp dir, started on a free loopback port, stopped and removed on drop.
//! Needs the server binaries (Debian: `apt-get install postgresql`, which
//! `.ci/run` does). Without them the suite is skipped with a notice, except
//! under `CI=true`, where that is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running server; stopped on drop.
pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    run_as: Option<&'static str>,
    /// Admin connection string (trust authentication on loopback).
    pub url: String,
}

/// The server's `bin` directory: `COHORT_TEST_POSTGRES_BIN` if set (other
/// layouts), else the newest Debian install.
fn server_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("COHORT_TEST_POSTGRES_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgServer {
    /// A server for the suite: the one `COHORT_TEST_POSTGRES_URL` names is
    /// used as is (returned as `Err(url)`); otherwise a new local one, or
    /// `Ok(None)` (with a notice) when no server binaries are installed
    /// outside CI.
    pub fn start() -> Result<Option<PgServer>, String> {
        if let Ok(url) = std::env::var("COHORT_TEST_POSTGRES_URL") {
            return Err(url);
        }
        let Some(bin) = server_bin() else {
            let missing = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin or \
                           COHORT_TEST_POSTGRES_BIN; apt-get install postgresql)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{missing}: the PostgreSQL conformance run is required under CI=true");
            }
            eprintln!("{missing}: PostgreSQL conformance skipped");
            return Ok(None);
        };
        let dir = tempfile::Builder::new().prefix("cohort-pg").tempdir().unwrap();
        // PostgreSQL refuses to run as root: run it as the package's user.
        let run_as = is_root().then_some("postgres");
        if let Some(user) = run_as {
            run(Command::new("chown").arg("-R").arg(user).arg(dir.path()), "chown");
        }
        let data = dir.path().join("data");
        let mut server = PgServer { bin, dir, run_as, url: String::new() };
        run(server.command("initdb").arg("-D").arg(&data).args(["-A", "trust", "-U", "cohort", "--no-sync"]), "initdb");
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
            server.dir.path().display()
        );
        let log = server.dir.path().join("server.log");
        let status = server
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        if !status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("pg_ctl start failed ({status}):\n{log}");
        }
        server.url = format!("postgres://cohort@127.0.0.1:{port}/postgres");
        Ok(Some(server))
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    // The owner of /proc/self is the process's user.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(Path::new("/proc/self")).is_ok_and(|m| m.uid() == 0)
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
