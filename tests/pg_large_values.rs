//! `bytea` values above the capture's slice threshold (16 MiB), read in slices in the capture's snapshot: the vault stream is byte for byte what one plain `COPY ... TO STDOUT` gives, and the values come back exactly after a refresh from a dump.

mod common;

use std::io::Read;

use common::pg::{self, Db, Site};
use sha2::{Digest, Sha256};

/// `mib` MiB of pseudo-random bytes, different at every call (md5 of random()).
fn random_bytes(mib: u32) -> String {
    format!(
        "(SELECT decode(string_agg(md5(random()::text || g::text), ''), 'hex')
          FROM generate_series(1, {mib} * 65536) g)"
    )
}

const SCHEMA: &str =
    "CREATE TABLE document (id int PRIMARY KEY, title text, content bytea, thumb bytea);";

/// Every row's id, and the MD5 of each of its fields.
fn digest(db: &Db) -> String {
    db.one(
        "SELECT md5(string_agg(id || ':' || coalesce(md5(title), '-') || ':' || coalesce(md5(content), '-')
                || ':' || coalesce(md5(thumb), '-'), ',' ORDER BY id))
         FROM document",
    )
}

/// SHA-256 of what `COPY (SELECT the columns ORDER BY id) TO STDOUT` gives,
/// in psql with the server's defaults (`bytea_output = 'hex'`).
fn plain_copy_sha256(db: &Db) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.txt");
    let file = std::fs::File::create(&path).unwrap();
    let status = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url(), "-c"])
        .arg("COPY (SELECT id, title, content, thumb FROM public.document ORDER BY id) TO STDOUT")
        .stdout(file)
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql COPY failed");
    sha256_of(&mut std::fs::File::open(&path).unwrap())
}

fn sha256_of(input: &mut dyn Read) -> String {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex::encode(hasher.finalize())
}

/// SHA-256 of the decrypted table stream `name` of the site's vault.
fn stream_sha256(site: &Site, name: &str) -> String {
    let key = vault_format::FileKey::read_file(&site.key).unwrap();
    let vault = vault_format::Vault::open(&site.vault)
        .unwrap()
        .unlock(&vault_format::KeyMaterial::KeyFile(key))
        .unwrap();
    sha256_of(&mut vault.stream(name).unwrap())
}

#[test]
fn values_above_the_slice_threshold_round_trip_byte_for_byte_through_a_refresh_from_a_dump() {
    let test = "values_above_the_slice_threshold_round_trip";
    let Some(server) = pg::server(test) else {
        return;
    };
    let acceptance = server.database("large_acc");
    acceptance.exec(SCHEMA);
    // Row 2 has both columns above the threshold, row 6 one of them; the
    // others are small, empty or NULL, and the titles need COPY's escapes.
    acceptance.exec(&format!(
        "INSERT INTO document VALUES
           (1, 'small', '\\x0001ff', '\\x'),
           (3, 'null and empty', NULL, ''::bytea),
           (4, E'tab\\there\\nnewline \\\\ backslash', ''::bytea, NULL),
           (5, 'small again', '\\xdeadbeef', '\\x00');
         INSERT INTO document SELECT 2, E'large\\tboth', {}, {};
         INSERT INTO document SELECT 6, 'large content', {}, NULL;",
        random_bytes(40),
        random_bytes(17),
        random_bytes(17),
    ));
    assert_eq!(
        acceptance.rows(
            "SELECT octet_length(content)::text FROM document WHERE id IN (2, 6) ORDER BY id"
        ),
        [(40 << 20).to_string(), (17 << 20).to_string()]
    );
    let captured = digest(&acceptance);
    let plain = plain_copy_sha256(&acceptance);

    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"document\"\n");
    let run = site.capture().expect(0);
    assert!(run.stdout.contains("6 rows"), "{run:#?}");
    assert_eq!(
        stream_sha256(&site, "document"),
        plain,
        "the stream is the bytes of one plain COPY"
    );

    let production = server.database("large_prod");
    production.exec(SCHEMA);
    production.exec(&format!(
        "INSERT INTO document VALUES (1, 'production', '\\x01', NULL), (9, 'production only', NULL, NULL);
         INSERT INTO document SELECT 2, 'production large', {}, NULL;",
        random_bytes(17)
    ));
    server.refresh_from_dump(&acceptance, &production);
    assert_ne!(digest(&acceptance), captured);

    site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(
        digest(&acceptance),
        captured,
        "every value came back exactly"
    );
}
