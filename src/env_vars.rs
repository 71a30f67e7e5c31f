//! Every environment variable that vault reads, each named once here.
//!
//! Code and tests refer to these constants, never to the names as string
//! literals, so that a rename is one edit and `docs/keys.md` can list them all.

/// Path of the key file that unlocks a vault, when `--key-file` is not given.
pub const VAULT_KEY_FILE: &str = "VAULT_KEY_FILE";

/// The passphrase that unlocks a vault. An alternative to `--passphrase-file`;
/// a passphrase is never accepted as a command-line argument, because other
/// users of the machine can read a process's arguments.
pub const VAULT_PASSPHRASE: &str = "VAULT_PASSPHRASE";

/// The passphrase of the new key slot that `vault key add` creates, when
/// `--new-passphrase-file` and `--new-key-file` are not given.
pub const VAULT_NEW_PASSPHRASE: &str = "VAULT_NEW_PASSPHRASE";

/// `vault demo --engine mariadb`: the MariaDB/MySQL server, when
/// `--mysql-url` is not given (default `mysql://root@127.0.0.1:3306/`).
pub const VAULT_DEMO_MYSQL_URL: &str = "VAULT_DEMO_MYSQL_URL";

/// `vault demo --engine mariadb` with a server URL that holds a password:
/// the vault.toml it writes reads the acceptance URL from this variable
/// (a password is never written into vault.toml).
pub const VAULT_DEMO_ACCEPTANCE_URL: &str = "VAULT_DEMO_ACCEPTANCE_URL";

/// As [`VAULT_DEMO_ACCEPTANCE_URL`], for the demo's production database.
pub const VAULT_DEMO_PRODUCTION_URL: &str = "VAULT_DEMO_PRODUCTION_URL";

/// Tests: the PostgreSQL server to create test databases on
/// (default `postgres://postgres@127.0.0.1:5432/postgres`).
pub const VAULT_TEST_POSTGRES_URL: &str = "VAULT_TEST_POSTGRES_URL";

/// Tests: the MySQL or MariaDB server to create test databases on
/// (default `mysql://root@127.0.0.1:3306/mysql`).
pub const VAULT_TEST_MYSQL_URL: &str = "VAULT_TEST_MYSQL_URL";

/// Tests: set to `1` to make a missing database server fail the run instead
/// of skipping the tests that need it. `.ci/run` sets it.
pub const VAULT_TEST_REQUIRE_SERVERS: &str = "VAULT_TEST_REQUIRE_SERVERS";

/// Every variable that carries key material, for code that must clear them
/// (tests, child processes).
pub const KEY_MATERIAL: [&str; 3] = [VAULT_KEY_FILE, VAULT_PASSPHRASE, VAULT_NEW_PASSPHRASE];
