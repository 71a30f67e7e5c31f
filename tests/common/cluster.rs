//! A PostgreSQL cluster of the test's own: made with initdb in a temp folder, started on a free port, copied physically (the data directory, as a base backup or storage snapshot copies it), and stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The server binaries of the installed PostgreSQL (Debian's layout), or
/// `None` after printing why `test` is skipped; with
/// `VAULT_TEST_REQUIRE_SERVERS=1` their absence fails the test.
pub fn binaries(test: &str) -> Option<PathBuf> {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| {
            versions
                .flatten()
                .map(|v| v.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
                .max()
        });
    if found.is_none() {
        let line = format!("{test}: no PostgreSQL server binaries under /usr/lib/postgresql");
        if std::env::var(vault::env_vars::VAULT_TEST_REQUIRE_SERVERS).as_deref() == Ok("1") {
            panic!("{line}; .ci/run installs them");
        }
        println!("skipped {line}");
    }
    found
}

/// A running cluster in a temp folder.
pub struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    /// Server settings given at start (`-c name=value`).
    settings: Vec<(String, String)>,
}

/// Runs a server binary as the `postgres` account when the tests run as
/// root (the server refuses root), as the current user otherwise.
fn run_as_server_user(bin: &Path, program: &str, args: &[&str]) -> Output {
    let program = bin.join(program);
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut command = if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(&program);
        command
    } else {
        Command::new(&program)
    };
    command.args(args).current_dir("/tmp");
    let output = command.output().expect("the server binary runs");
    assert!(
        output.status.success(),
        "{} {args:?}: {}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temp folder the server account may use.
fn server_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let _ = Command::new("chown")
        .args(["postgres:postgres", dir.path().to_str().unwrap()])
        .output();
    dir
}

impl Cluster {
    /// A new cluster, trust authentication, started.
    pub fn new(bin: &Path) -> Cluster {
        Cluster::with_settings(bin, &[])
    }

    /// A new cluster started with server settings of its own (for example
    /// `shared_preload_libraries`, which needs its own server).
    pub fn with_settings(bin: &Path, settings: &[(&str, &str)]) -> Cluster {
        let dir = server_folder();
        let data = dir.path().join("data");
        run_as_server_user(
            bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let cluster = Cluster {
            bin: bin.to_owned(),
            dir,
            port: free_port(),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        cluster.start();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&self) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses='127.0.0.1,::1' -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        for (name, value) in &self.settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let log = self.dir.path().join("log");
        run_as_server_user(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        run_as_server_user(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// A physical copy: the data directory copied while the server is
    /// stopped, then both started, the copy on another port. The copy has
    /// the same system identifier, databases and OIDs.
    pub fn physical_copy(&self) -> Cluster {
        self.stop();
        let dir = server_folder();
        let copied = Command::new("cp")
            .args([
                "-a",
                self.data().to_str().unwrap(),
                dir.path().to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(copied.success());
        let _ = std::fs::remove_file(dir.path().join("data/postmaster.pid"));
        self.start();
        let copy = Cluster {
            bin: self.bin.clone(),
            dir,
            port: free_port(),
            settings: self.settings.clone(),
        };
        copy.start();
        copy
    }

    /// The server's log so far (empty when it cannot be read).
    #[allow(dead_code)]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// The URL of a database of this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The URL of a database of this cluster through the IPv6 loopback,
    /// as an IPv6 literal (`[::1]`).
    pub fn url_ipv6(&self, database: &str) -> String {
        format!("postgres://postgres@[::1]:{}/{database}", self.port)
    }

    /// Runs SQL with psql; returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(database),
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args([
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .current_dir("/tmp")
            .output();
        let _ = Command::new(self.bin.join("pg_ctl"))
            .args([
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}
