//! The committed test vectors (SPEC.md section 12): one table-driven test over `tests/vectors/*.toml`.
//!
//! Each `NAME.toml` names the key to use and the outcome expected from the
//! structural check, from unlocking and from reading every stream of
//! `NAME.vault`. A new case is a new pair of files; see `tests/vectors/README.md`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vault_format::{FileKey, KeyMaterial, Passphrase, Vault, VaultError, check_structure};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    key: String,
    expect: Expect,
    /// Good cases: the SHA-256 of every stream, in stream order.
    #[serde(default)]
    streams: toml::Table,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    structure: String,
    unlock: String,
    read: String,
    read_message: Option<String>,
    /// Good cases: the header's format version.
    format_version: Option<u16>,
}

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn key(name: &str) -> KeyMaterial {
    let path = folder().join(format!("{name}.txt"));
    match name {
        "keyfile" | "other-keyfile" => KeyMaterial::KeyFile(FileKey::read_file(&path).unwrap()),
        "passphrase" | "other-passphrase" => {
            KeyMaterial::Passphrase(Passphrase::read_file(&path).unwrap())
        }
        other => panic!("unknown key {other:?}"),
    }
}

fn code<T>(result: &Result<T, VaultError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.code().to_owned(),
    }
}

/// Opens, unlocks and reads every stream of the manifest to its end.
fn read_all(path: &Path, key: &KeyMaterial) -> Result<Vec<(String, String)>, VaultError> {
    let unlocked = Vault::open(path)?.unlock(key)?;
    let mut digests = Vec::new();
    for entry in &unlocked.manifest().streams {
        let mut bytes = Vec::new();
        unlocked
            .stream(&entry.name)?
            .read_to_end(&mut bytes)
            .map_err(vault_format::vault_error_of)?;
        digests.push((entry.name.clone(), hex::encode(Sha256::digest(&bytes))));
    }
    Ok(digests)
}

/// Checks one case; returns what went wrong.
fn run(name: &str, case: &Case) -> Vec<String> {
    let path = folder().join(format!("{name}.vault"));
    let key = key(&case.key);
    let mut problems = Vec::new();
    let mut compare = |operation: &str, expected: &str, found: String, error: String| {
        if found != expected {
            problems.push(format!(
                "{operation}: expected {expected}, found {found} {error}"
            ));
        }
    };

    let structure = check_structure(&path);
    compare(
        "structure",
        &case.expect.structure,
        code(&structure),
        describe(&structure),
    );
    let unlock = Vault::open(&path).and_then(|vault| vault.unlock(&key));
    compare(
        "unlock",
        &case.expect.unlock,
        code(&unlock),
        describe(&unlock),
    );
    let read = read_all(&path, &key);
    compare("read", &case.expect.read, code(&read), describe(&read));

    match (&read, &case.expect.read_message) {
        (Err(error), Some(phrase)) if !error.to_string().contains(phrase.as_str()) => {
            problems.push(format!(
                "read: the error \"{error}\" does not say \"{phrase}\""
            ));
        }
        _ => {}
    }
    if let (Ok(unlocked), Some(version)) = (&unlock, case.expect.format_version) {
        problems.extend(check_signing_key(unlocked, version));
    } else if case.expect.read == "ok" {
        problems.push("a good case must state its format_version".into());
    }
    if case.expect.read == "ok" {
        let expected: Vec<(String, String)> = case
            .streams
            .iter()
            .map(|(name, digest)| (name.clone(), digest.as_str().unwrap_or("").to_owned()))
            .collect();
        if expected.is_empty() {
            problems.push("a good case must list its streams' digests".into());
        }
        if let Ok(found) = &read {
            let mut found = found.clone();
            let mut expected = expected;
            found.sort();
            expected.sort();
            if found != expected {
                problems.push(format!(
                    "read: the streams differ: expected {expected:?}, found {found:?}"
                ));
            }
        }
    }
    problems
}

/// A version 2 vault's header holds the public key of the signing key that
/// unlocking derives (SPEC.md section 5.4); a version 1 vault has neither.
fn check_signing_key(unlocked: &vault_format::UnlockedVault, version: u16) -> Vec<String> {
    let header = unlocked.vault().header();
    let mut problems = Vec::new();
    if header.format_version != version {
        problems.push(format!(
            "format version {} instead of {version}",
            header.format_version
        ));
    }
    match (header.public_key, unlocked.signing_key()) {
        (Some(public_key), Some(signer)) if version >= 2 => {
            let signature = signer.sign(b"vector");
            if !public_key.verifies(b"vector", &signature) {
                problems
                    .push("the signing key's signature fails under the header's public key".into());
            }
        }
        (None, None) if version == 1 => {}
        (public_key, signer) => problems.push(format!(
            "version {version} with public key {public_key:?} and a signing key: {}",
            signer.is_some()
        )),
    }
    problems
}

fn describe<T>(result: &Result<T, VaultError>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(error) => format!("({error})"),
    }
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let mut cases = BTreeMap::new();
    let mut vaults = Vec::new();
    for entry in std::fs::read_dir(folder()).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => {
                let text = std::fs::read_to_string(&path).unwrap();
                let case: Case =
                    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                cases.insert(stem, case);
            }
            Some("vault") => vaults.push(stem),
            _ => {}
        }
    }
    for vault in &vaults {
        assert!(
            cases.contains_key(vault),
            "{vault}.vault has no {vault}.toml"
        );
    }
    assert!(
        cases.len() >= 20,
        "only {} vectors found in {}",
        cases.len(),
        folder().display()
    );

    let mut failures = Vec::new();
    for (name, case) in &cases {
        assert!(
            !case.description.is_empty(),
            "{name}: the description is empty"
        );
        for problem in run(name, case) {
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
