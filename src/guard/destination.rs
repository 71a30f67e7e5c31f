//! Where a database URL really leads, read from the options the driver will use (environment defaults and query parameters included), never from the URL's text.
//!
//! Two spellings of one server are one destination: every loopback address,
//! this machine's own addresses and its local sockets are one host; a name
//! is resolved and compared by its addresses; case and a trailing dot are
//! ignored; the database name is the decoded one. A SQLite database is its
//! file: device and inode, whatever path, link or encoding names it.

use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::EngineKind;

/// How long a host name may take to resolve before it is compared by name only.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The host a connection reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// As written, lower case, without brackets or a trailing dot; a
    /// socket's path.
    pub written: String,
    /// Every address the name resolves to (empty for a socket, or a name
    /// that does not resolve).
    pub addresses: BTreeSet<IpAddr>,
    /// This machine: a loopback or own address, or a local socket.
    pub local: bool,
}

impl Host {
    /// A host name or address literal, resolved.
    pub fn named(name: &str) -> Host {
        let written = normalize_name(name);
        let addresses = resolve(&written);
        let local = addresses.iter().any(is_local) || written == "localhost";
        Host {
            written,
            addresses,
            local,
        }
    }

    /// A local socket (a Unix-domain socket's directory or path).
    pub fn socket(path: &Path) -> Host {
        Host {
            written: path.display().to_string(),
            addresses: BTreeSet::new(),
            local: true,
        }
    }

    /// Whether two hosts are one machine.
    pub fn same_as(&self, other: &Host) -> bool {
        (self.local && other.local)
            || self.written == other.written
            || !self.addresses.is_disjoint(&other.addresses)
    }
}

/// Where a database URL leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub engine: EngineKind,
    pub host: Host,
    /// `None` where the connection does not name one (a MySQL socket).
    pub port: Option<u16>,
    /// The database (schema on MySQL) as the driver sends it, decoded; a
    /// SQLite file's canonical path.
    pub database: String,
    /// A SQLite file's device and inode, when it exists.
    pub file: Option<(u64, u64)>,
}

impl Destination {
    /// A server reached over the network or a local socket.
    pub fn server(engine: EngineKind, host: Host, port: Option<u16>, database: &str) -> Self {
        Destination {
            engine,
            host,
            port,
            database: database.to_owned(),
            file: None,
        }
    }

    /// A SQLite database file: its canonical path and its device and inode.
    pub fn file(path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path));
        let file = std::fs::metadata(&canonical)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        Destination {
            engine: EngineKind::Sqlite,
            host: Host::socket(Path::new("")),
            port: None,
            database: canonical.display().to_string(),
            file,
        }
    }

    /// Whether both lead to the same database of the same server (or the
    /// same file).
    pub fn same_database(&self, other: &Destination) -> bool {
        if self.engine != other.engine {
            return false;
        }
        if self.engine == EngineKind::Sqlite {
            return match (self.file, other.file) {
                (Some(a), Some(b)) => a == b,
                _ => self.database == other.database,
            };
        }
        let ports = match (self.port, other.port) {
            (Some(a), Some(b)) => a == b,
            // A socket without a port may be any local server.
            _ => true,
        };
        let databases = match self.engine {
            // Schema names fold to lower case where the server's
            // lower_case_table_names does; treating them so only refuses more.
            EngineKind::Mysql => self.database.eq_ignore_ascii_case(&other.database),
            _ => self.database == other.database,
        };
        ports && databases && self.host.same_as(&other.host)
    }

    /// How the destination reads in a message: `host:port/database`.
    pub fn describe(&self) -> String {
        match (self.engine, self.port) {
            (EngineKind::Sqlite, _) => self.database.clone(),
            (_, Some(port)) => format!("{}:{port}/{}", self.host.written, self.database),
            (_, None) => format!("{}/{}", self.host.written, self.database),
        }
    }

    /// Whether a `[production].hosts` pattern names this destination's
    /// host: the name as written, any address it resolves to, or, for a
    /// pattern without wildcards, a name that resolves to one of them.
    pub fn host_matches(&self, pattern: &str) -> bool {
        let pattern = normalize_name(pattern);
        if super::host_matches(&pattern, &self.host.written)
            || self
                .host
                .addresses
                .iter()
                .any(|a| super::host_matches(&pattern, &a.to_string()))
        {
            return true;
        }
        if pattern.contains(['*', '?']) || self.engine == EngineKind::Sqlite {
            return false;
        }
        Host::named(&pattern).same_as(&self.host)
    }
}

/// Lower case, without IPv6 brackets or a trailing dot.
fn normalize_name(name: &str) -> String {
    let name = name.trim().trim_start_matches('[').trim_end_matches(']');
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Every address of a name (or the literal itself), within [`RESOLVE_TIMEOUT`].
fn resolve(name: &str) -> BTreeSet<IpAddr> {
    if let Ok(address) = name.parse::<IpAddr>() {
        return BTreeSet::from([address]);
    }
    if name.is_empty() {
        return BTreeSet::new();
    }
    let (send, receive) = std::sync::mpsc::channel();
    let owned = name.to_owned();
    std::thread::spawn(move || {
        let found: BTreeSet<IpAddr> = (owned.as_str(), 0)
            .to_socket_addrs()
            .map(|addresses| addresses.map(|a| a.ip()).collect())
            .unwrap_or_default();
        let _ = send.send(found);
    });
    receive.recv_timeout(RESOLVE_TIMEOUT).unwrap_or_default()
}

/// Whether an address is this machine's: loopback, unspecified, or one
/// that a socket can be bound to here.
fn is_local(address: &IpAddr) -> bool {
    address.is_loopback()
        || address.is_unspecified()
        || address.to_canonical().is_loopback()
        || UdpSocket::bind((*address, 0)).is_ok()
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(host: &str, port: u16, database: &str) -> Destination {
        Destination::server(
            EngineKind::Postgres,
            Host::named(host),
            Some(port),
            database,
        )
    }

    #[test]
    fn every_loopback_spelling_is_one_host() {
        let first = pg("localhost", 5432, "db");
        for other in [
            "127.0.0.1",
            "LOCALHOST",
            "[::1]",
            "::1",
            "127.0.0.2",
            "localhost.",
        ] {
            assert!(first.same_database(&pg(other, 5432, "db")), "{other}");
        }
        let socket = Destination::server(
            EngineKind::Postgres,
            Host::socket(Path::new("/var/run/postgresql")),
            Some(5432),
            "db",
        );
        assert!(first.same_database(&socket));
        assert!(!first.same_database(&pg("localhost", 5433, "db")));
        assert!(!first.same_database(&pg("localhost", 5432, "other")));
    }

    #[test]
    fn names_compare_by_address_case_and_trailing_dot_aside() {
        let written = pg("2001:db8::10", 5432, "db");
        assert!(written.same_database(&pg("[2001:DB8::10]", 5432, "db")));
        assert!(!written.same_database(&pg("2001:db8::11", 5432, "db")));
        let named = pg("PROD-DB.", 5432, "db");
        assert_eq!(named.host.written, "prod-db");
        assert!(named.host_matches("prod-db"));
        assert!(named.host_matches("PROD-*"));
        assert!(!named.host_matches("acc-*"));
        // A pattern is resolved: the loopback address matches `localhost`.
        assert!(pg("127.0.0.1", 5432, "db").host_matches("localhost"));
    }

    #[test]
    fn a_sqlite_file_is_its_inode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("production.db");
        std::fs::write(&file, b"x").unwrap();
        let link = dir.path().join("alias.db");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let dotted = dir.path().join("sub/../production.db");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let production = Destination::file(&file);
        assert!(production.same_database(&Destination::file(&link)));
        assert!(production.same_database(&Destination::file(&dotted)));
        let copy = dir.path().join("copy.db");
        std::fs::copy(&file, &copy).unwrap();
        assert!(!production.same_database(&Destination::file(&copy)));
    }
}
