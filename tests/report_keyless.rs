//! `vault report verify` without the vault's key, as a change-ticket reviewer
//! runs it: the Ed25519 signature checked with the public key from the
//! vault's header (`--vault`, no key) or from `--public-key` (no vault);
//! edits, other keys and bad input refused; a vault of format version 1
//! still restores, and its reports are checked with the key only.

mod common;

use std::path::{Path, PathBuf};

use common::demo::{OPERATOR, Refreshed};
use common::{Run, cheap_kdf, s, vault};
use serde_json::Value;
use vault_format::{FileKey, KeyMaterial, PublicKey, Vault, VaultWriter, WriterOptions};

/// Runs the binary with no key material at all.
fn keyless(args: &[&str]) -> Run {
    vault(args, &[("USER", OPERATOR)])
}

/// The public key `vault inspect --json` shows for a vault, without a key.
fn inspected_public_key(vault_path: &Path) -> Value {
    let run = keyless(&["inspect", "--json", s(vault_path)]).expect(0);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    json["public_key"].clone()
}

fn report_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// The three report files, to put back after an edit.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["report.json", "report.md", "report.html"]
        .iter()
        .map(|name| (dir.join(name), std::fs::read(dir.join(name)).unwrap()))
        .collect()
}

fn put_back(files: &[(PathBuf, Vec<u8>)]) {
    for (path, bytes) in files {
        std::fs::write(path, bytes).unwrap();
    }
}

/// Replaces the first `from` in `dir/name` with `to`.
fn edit(dir: &Path, name: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    assert!(text.contains(from), "{from:?} not in {name}");
    std::fs::write(dir.join(name), text.replacen(from, to, 1)).unwrap();
}

#[test]
fn an_untouched_report_verifies_without_a_key_from_the_vault_or_its_public_key() {
    let site = Refreshed::new();
    let dir = site.restore_with_report("run-report", &[], 0);
    let vault_path = site.path("acceptance.vault");
    let public_key = inspected_public_key(&vault_path);
    let public_key = public_key.as_str().unwrap().to_owned();
    assert_eq!(public_key.len(), 64);

    let report = report_json(&dir);
    let entry = &report["signature"]["public_key_signature"];
    assert_eq!(entry["algorithm"], "Ed25519");
    assert_eq!(entry["public_key"], public_key.as_str());
    assert_eq!(entry["value"].as_str().unwrap().len(), 128);
    assert_eq!(report["signature"]["algorithm"], "HMAC-SHA256");

    // The Ed25519 signature covers the bytes the HMAC covers: the report's
    // canonical bytes, checked here by the format's verifier alone.
    let parsed: vault::report::Report =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let key = PublicKey::from_hex(&public_key).unwrap();
    let value = hex::decode(entry["value"].as_str().unwrap()).unwrap();
    assert!(key.verifies(&parsed.canonical_bytes(), &value));

    for args in [
        vec!["report", "verify", s(&dir)],
        vec!["report", "verify", s(&dir), "--vault", s(&vault_path)],
        vec!["report", "verify", s(&dir), "--public-key", &public_key],
    ] {
        let run = keyless(&args).expect(0);
        assert!(
            run.stdout.contains("report verified without a key")
                && run.stdout.contains(&public_key),
            "{args:?}: {run:#?}"
        );
    }
    let upper = public_key.to_uppercase();
    keyless(&["report", "verify", s(&dir), "--public-key", &upper]).expect(0);
    // A key holder still checks the HMAC (and the Ed25519 signature).
    site.verify(&dir, &[]).expect(0);
}

#[test]
fn an_edit_of_any_file_or_of_the_signature_fails_keyless_verification() {
    let site = Refreshed::new();
    let dir = site.restore_with_report("run-report", &[], 0);
    let vault_path = site.path("acceptance.vault");
    let public_key = inspected_public_key(&vault_path);
    let public_key = public_key.as_str().unwrap().to_owned();
    let original = snapshot(&dir);
    let value = report_json(&dir)["signature"]["public_key_signature"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut forged = value.clone();
    let last = if forged.ends_with('0') { "1" } else { "0" };
    forged.replace_range(127..128, last);

    let edits: Vec<(&str, String, String, &str)> = vec![
        (
            "report.json",
            format!("\"operator\": \"{OPERATOR}\""),
            "\"operator\": \"someone-else\"".into(),
            "Ed25519 signature does not match",
        ),
        (
            "report.json",
            format!("\"value\": \"{value}\""),
            format!("\"value\": \"{forged}\""),
            "Ed25519 signature does not match",
        ),
        (
            "report.md",
            "| restore | ok |".into(),
            "| restore | failed |".into(),
            "report.md was edited",
        ),
        (
            "report.html",
            "<h2>Summary</h2>".into(),
            "<h2>Summery</h2>".into(),
            "report.html was edited",
        ),
    ];
    for (name, from, to, says) in &edits {
        put_back(&original);
        keyless(&["report", "verify", s(&dir), "--public-key", &public_key]).expect(0);
        edit(&dir, name, from, to);
        for args in [
            vec!["report", "verify", s(&dir), "--public-key", &public_key],
            vec!["report", "verify", s(&dir), "--vault", s(&vault_path)],
        ] {
            let run = keyless(&args).expect(3);
            assert!(
                run.stdout.contains(says)
                    && run
                        .stdout
                        .contains("was edited; do not attach it as evidence"),
                "{name} {args:?}: {run:#?}"
            );
        }
    }

    // The Ed25519 entry removed: the vault signs every report, so with its
    // public key from the header the removal is an edit.
    put_back(&original);
    let mut report = report_json(&dir);
    report["signature"]
        .as_object_mut()
        .unwrap()
        .remove("public_key_signature");
    let mut text = serde_json::to_string_pretty(&report).unwrap();
    text.push('\n');
    std::fs::write(dir.join("report.json"), text).unwrap();
    let run = keyless(&["report", "verify", s(&dir), "--vault", s(&vault_path)]).expect(3);
    assert!(run.stdout.contains("has no Ed25519 signature"), "{run:#?}");
}

#[test]
fn another_vaults_public_key_or_a_wrong_one_fails() {
    let site = Refreshed::new();
    let dir = site.restore_with_report("run-report", &[], 0);
    let other = Refreshed::new();
    let other_vault = other.path("acceptance.vault");
    let other_key = inspected_public_key(&other_vault);
    let other_key = other_key.as_str().unwrap();
    let own_key = inspected_public_key(&site.path("acceptance.vault"));
    assert_ne!(other_key, own_key.as_str().unwrap());

    let run = keyless(&["report", "verify", s(&dir), "--public-key", other_key]).expect(3);
    assert!(
        run.stdout.contains(&format!(
            "not {other_key}: it was signed with another vault's key"
        )),
        "{run:#?}"
    );
    // A well-formed key that is no vault's (not even a point of the curve).
    let nobody = "ff".repeat(32);
    keyless(&["report", "verify", s(&dir), "--public-key", &nobody]).expect(3);
    // Another vault file: the report is not of that vault (as with the key).
    let run = keyless(&["report", "verify", s(&dir), "--vault", s(&other_vault)]).expect(2);
    assert!(
        run.error_line().contains("belongs to another vault"),
        "{run:#?}"
    );
}

#[test]
fn bad_public_key_input_is_one_clear_usage_error() {
    let site = Refreshed::new();
    let dir = site.restore_with_report("run-report", &[], 0);
    for (input, says) in [
        (
            "abcd",
            "--public-key: an Ed25519 public key is 64 hex digits",
        ),
        (
            &"zz".repeat(32)[..],
            "--public-key: an Ed25519 public key is hex digits only",
        ),
        ("", "--public-key: an Ed25519 public key is 64 hex digits"),
    ] {
        let run = keyless(&["report", "verify", s(&dir), "--public-key", input]).expect(2);
        assert!(run.error_line().starts_with(says), "{input:?}: {run:#?}");
        assert_eq!(run.stderr.matches("error:").count(), 1, "{run:#?}");
        assert!(
            run.stderr
                .contains("hint: give the public key that `vault inspect` prints")
        );
        assert!(run.stdout.is_empty(), "{run:#?}");
    }
    // --public-key needs no vault and no key: giving them too is a usage error.
    let key = site.path("demo.key");
    let public_key = inspected_public_key(&site.path("acceptance.vault"));
    let public_key = public_key.as_str().unwrap();
    for extra in [
        ["--vault", s(&site.path("acceptance.vault"))],
        ["--key-file", s(&key)],
    ] {
        let mut args = vec!["report", "verify", s(&dir), "--public-key", public_key];
        args.extend(extra);
        keyless(&args).expect(2);
    }
}

/// A copy of the vault at `from`, opened with `key`, as a vault of format
/// version 1 at `to`: the same streams, metadata, rows and source, as a
/// release before keyless verification wrote them; another vault id.
fn rewrite_as_version_1(from: &Path, to: &Path, key_path: &Path) {
    let key = KeyMaterial::KeyFile(FileKey::read_file(key_path).unwrap());
    let unlocked = Vault::open(from).unwrap().unlock(&key).unwrap();
    let header = unlocked.vault().header().clone();
    let options = WriterOptions {
        format_version: 1,
        source: header.source,
        tool_version: header.tool_version,
        chunk_size: header.chunk_size,
        kdf: cheap_kdf(),
        ..WriterOptions::default()
    };
    let writer = VaultWriter::create(to, options, &[&key]).unwrap();
    for entry in &unlocked.manifest().streams {
        let mut stream = writer.stream(&entry.name, entry.metadata.clone()).unwrap();
        std::io::copy(&mut unlocked.stream(&entry.name).unwrap(), &mut stream).unwrap();
        stream.add_rows(entry.row_count);
        stream.finish().unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn a_version_1_vault_restores_and_says_it_predates_keyless_verification() {
    let site = Refreshed::new();
    let old = site.path("old.vault");
    rewrite_as_version_1(&site.path("acceptance.vault"), &old, &site.path("demo.key"));
    let inspected = keyless(&["inspect", s(&old)]).expect(0);
    assert!(inspected.stdout.contains("format       version 1"));
    assert!(inspected.stdout.contains("public key   none"));

    let dir = site.path("old-report");
    let run = site
        .run(
            [
                "restore",
                s(&old),
                "--config",
                s(&site.path("vault.toml")),
                "--report-dir",
                s(&dir),
            ]
            .iter()
            .map(|a| a.to_string())
            .collect(),
        )
        .expect(0);
    assert!(
        run.stdout.contains(&format!("report: {}", dir.display())),
        "{run:#?}"
    );
    let signature = &report_json(&dir)["signature"];
    assert_eq!(signature["algorithm"], "HMAC-SHA256");
    assert_eq!(signature.get("public_key_signature"), None);

    for args in [
        vec!["report", "verify", s(&dir)],
        vec!["report", "verify", s(&dir), "--vault", s(&old)],
    ] {
        let run = keyless(&args).expect(1);
        assert!(
            run.error_line().contains(&format!(
                "{} is a vault of format version 1, which predates keyless verification",
                old.display()
            )),
            "{run:#?}"
        );
        assert!(
            run.stderr.contains("hint: verify with the vault's key"),
            "{run:#?}"
        );
    }
    // A public key cannot check a report that carries only the HMAC.
    let new_key = inspected_public_key(&site.path("acceptance.vault"));
    let run = keyless(&[
        "report",
        "verify",
        s(&dir),
        "--public-key",
        new_key.as_str().unwrap(),
    ])
    .expect(1);
    assert!(
        run.error_line()
            .contains("carries no Ed25519 signature, only an HMAC")
    );
    // The key holder's check is as before.
    site.verify(&dir, &[]).expect(0);
    edit(
        &dir,
        "report.md",
        "| restore | ok |",
        "| restore | failed |",
    );
    site.verify(&dir, &[]).expect(3);
}
