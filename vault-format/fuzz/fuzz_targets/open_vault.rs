//! Arbitrary bytes opened as a vault: open, check, unlock and read must fail
//! with an error or succeed, never panic, hang or allocate without bound.

#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vault_format::{FileKey, KeyMaterial, Vault, check_structure};

/// A fixed key file; seeds made with it get past the key check.
const KEY: &str = "vault-key-v1:9b2d2c61cde1d4335cbf2e6082c7461c5f5cbd6ccafb1e6e140e7e50e5a441f1";

fn key() -> &'static KeyMaterial {
    static KEY_MATERIAL: OnceLock<KeyMaterial> = OnceLock::new();
    KEY_MATERIAL.get_or_init(|| KeyMaterial::KeyFile(FileKey::parse(KEY).expect("valid key")))
}

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("input.vault");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _ = check_structure(&path);
    let Ok(vault) = Vault::open(&path) else {
        return;
    };
    let _ = (
        vault.header(),
        vault.slots(),
        vault.streams(),
        vault.is_committed(),
    );
    let Ok(unlocked) = vault.unlock(key()) else {
        return;
    };
    let mut sink = Vec::new();
    for entry in &unlocked.manifest().streams {
        if let Ok(mut reader) = unlocked.stream(&entry.name) {
            sink.clear();
            let _ = reader.read_to_end(&mut sink);
        }
    }
});
