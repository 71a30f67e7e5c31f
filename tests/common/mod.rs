//! Helpers for the command-line tests: run the real binary in a temp dir, build and damage vaults.

#![allow(dead_code)] // each test file uses its own share of the helpers

pub mod cluster;
pub mod demo;
pub mod health;
pub mod mysql;
pub mod pg;
pub mod pseudonyms;
pub mod sanitize;
pub mod workflow;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use vault::env_vars::KEY_MATERIAL;
use vault_format::{FileKey, KdfParams, KeyMaterial, Passphrase, VaultWriter, WriterOptions};

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code; the run gave {self:#?}");
        self
    }

    /// The `error:` line of stderr, without the prefix.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or_else(|| panic!("no error line in {self:#?}"))
    }
}

/// The per-table count lines (`... rows  N inserted, ... removed first (mode)`)
/// of a restore's output, trimmed, each once.
pub fn restore_count_lines(stdout: &str) -> Vec<String> {
    let mut lines: Vec<String> = stdout
        .lines()
        .filter(|l| l.contains(" rows  ") && l.contains(" removed first ("))
        .map(|l| l.trim().to_owned())
        .collect();
    lines.dedup();
    lines
}

/// Runs `vault ARGS` with `env` as the only key-material variables.
pub fn vault<I, S>(args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_vault"));
    command.args(args);
    for name in KEY_MATERIAL {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the vault binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// Argon2id costs that keep tests fast (t=1, m=64 KiB, p=1).
pub fn cheap_kdf() -> KdfParams {
    KdfParams {
        t_cost: 1,
        m_cost_kib: 64,
        parallelism: 1,
    }
}

/// A new key file at `dir/name`, and the key it holds.
pub fn key_file(dir: &Path, name: &str) -> (PathBuf, KeyMaterial) {
    let path = dir.join(name);
    FileKey::generate().unwrap().write_new_file(&path).unwrap();
    let key = FileKey::read_file(&path).unwrap();
    (path, KeyMaterial::KeyFile(key))
}

pub fn passphrase(text: &str) -> KeyMaterial {
    KeyMaterial::Passphrase(Passphrase::new(text.to_owned()).unwrap())
}

/// Writes `text` to `dir/name` and returns the path.
pub fn text_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Rows in the first stream, chunks of 4 KiB.
pub const USER_ROWS: u64 = 2000;

/// A committed vault at `path` openable by each of `keys`: a stream of
/// row-like text over several 4 KiB chunks and a small blob stream.
pub fn make_vault(path: &Path, keys: &[&KeyMaterial]) {
    make_vault_version(path, keys, vault_format::FORMAT_VERSION);
}

/// [`make_vault`] in another format version (1: no public key).
pub fn make_vault_version(path: &Path, keys: &[&KeyMaterial], format_version: u16) {
    let options = WriterOptions {
        format_version,
        source: "sqlite tests/acceptance.db".into(),
        tool_version: "vault tests".into(),
        chunk_size: 4096,
        kdf: cheap_kdf(),
        ..WriterOptions::default()
    };
    let writer = VaultWriter::create(path, options, keys).unwrap();
    let mut users = writer
        .stream(
            "camis.app_user",
            serde_json::json!({"table": "camis.app_user"}),
        )
        .unwrap();
    for i in 0..USER_ROWS {
        // Pseudo-random digits keep zstd from shrinking it to one chunk.
        let noise = (i * 2_654_435_761) % 1_000_003;
        writeln!(users, "{i}\tuser{i}@example.org\t{noise}\tactive").unwrap();
    }
    users.add_rows(USER_ROWS);
    users.finish().unwrap();
    let mut blobs = writer
        .stream("portal.document", serde_json::json!({"blob": true}))
        .unwrap();
    blobs.write_all(b"%PDF-1.7 trial document").unwrap();
    blobs.add_rows(1);
    blobs.finish().unwrap();
    writer.finish().unwrap();
}

/// Opens a vault file for a deliberate edit.
fn edit(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// Flips one byte of a chunk's ciphertext (its checksum no longer matches).
pub fn flip_chunk_byte(path: &Path, stream_index: u32, chunk_index: u64) {
    let conn = edit(path);
    let mut ciphertext: Vec<u8> = conn
        .query_row(
            "SELECT ciphertext FROM chunk WHERE stream_index = ?1 AND chunk_index = ?2",
            rusqlite::params![stream_index, chunk_index as i64],
            |row| row.get(0),
        )
        .unwrap();
    ciphertext[7] ^= 0x01;
    conn.execute(
        "UPDATE chunk SET ciphertext = ?1 WHERE stream_index = ?2 AND chunk_index = ?3",
        rusqlite::params![ciphertext, stream_index, chunk_index as i64],
    )
    .unwrap();
}

/// Swaps two full chunks of a stream, checksums and all: the structure
/// still adds up, only decryption can tell.
pub fn swap_chunks(path: &Path, stream_index: u32, a: u64, b: u64) {
    let conn = edit(path);
    conn.execute_batch(&format!(
        "UPDATE chunk SET chunk_index = -1 WHERE stream_index = {stream_index} AND chunk_index = {a};
         UPDATE chunk SET chunk_index = {a} WHERE stream_index = {stream_index} AND chunk_index = {b};
         UPDATE chunk SET chunk_index = {b} WHERE stream_index = {stream_index} AND chunk_index = -1;"
    ))
    .unwrap();
}

/// Deletes the manifest: the vault looks like a capture that never finished.
pub fn drop_manifest(path: &Path) {
    edit(path).execute("DELETE FROM manifest", []).unwrap();
}

/// How many chunks a stream has.
pub fn chunk_count(path: &Path, stream_index: u32) -> u64 {
    edit(path)
        .query_row(
            "SELECT count(*) FROM chunk WHERE stream_index = ?1",
            [stream_index],
            |row| row.get::<_, i64>(0),
        )
        .unwrap() as u64
}

/// The path as a `&str`, for argument lists.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Reaches a database server for the tests: its URL from `env_var` (else
/// `default`), or `None` after printing why `test` is skipped. With
/// `VAULT_TEST_REQUIRE_SERVERS=1` a missing server fails the test instead.
pub fn reach_server<C: sqlx::Connection>(
    test: &str,
    what: &str,
    env_var: &str,
    default: &str,
) -> Option<(String, tokio::runtime::Runtime)> {
    use vault::env_vars::VAULT_TEST_REQUIRE_SERVERS;
    let base = std::env::var(env_var).unwrap_or_else(|_| default.into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reached = runtime.block_on(async {
        let wait = std::time::Duration::from_secs(5);
        match tokio::time::timeout(wait, C::connect(&base)).await {
            Ok(Ok(conn)) => conn.close().await.map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 5 s".into()),
        }
    });
    match reached {
        Ok(()) => Some((base, runtime)),
        Err(why) => {
            let shown = vault::config::DatabaseUrl::parse(&base)
                .map_or_else(|_| "(unparsable URL)".into(), |u| u.redacted().to_owned());
            let line = format!("{test}: no {what} server at {shown} ({why})");
            if std::env::var(VAULT_TEST_REQUIRE_SERVERS).as_deref() == Ok("1") {
                panic!("{line}; {VAULT_TEST_REQUIRE_SERVERS}=1 requires one");
            }
            println!("skipped {line}; set {env_var} to run it");
            None
        }
    }
}

/// The URL of `database` on the server that `base` names (its path replaced).
pub fn database_url(base: &str, database: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((head, query)) => (head, format!("?{query}")),
        None => (base, String::new()),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let root = match head[after_scheme..].find('/') {
        Some(slash) => &head[..after_scheme + slash],
        None => head,
    };
    format!("{root}/{database}{query}")
}

/// A name no other test uses: prefix, process, counter, label (cut to `max` bytes).
pub fn unique_name(prefix: &str, label: &str, max: usize) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = format!("{prefix}_{}_{n}_{label}", std::process::id());
    name.truncate(max);
    name
}

/// Forwards every connection on a local port to `target`: another route
/// to the same server, as an SSH tunnel or a pooler gives.
pub fn forward_port(target: u16) -> u16 {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buffer) {
                        if n == 0 || to.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                })
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    port
}
