//! Where key material comes from: key files and passphrases, from options or the environment.
//!
//! One vault is opened with exactly one piece of key material. It comes from
//! `--key-file PATH` (or [`VAULT_KEY_FILE`]), `--passphrase-file PATH`, or
//! [`VAULT_PASSPHRASE`]; never from a command-line argument holding a
//! passphrase. An option overrides only its own environment variable
//! (`--key-file` over `VAULT_KEY_FILE`); any other two sources at once are a
//! usage error, so that it is always clear which key was used.
//!
//! Messages name the source (an option, a variable, a path), never its content.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use vault_format::{FileKey, KeyMaterial, Passphrase, VaultError};

use crate::cli::{KeyArgs, NewKeyArgs};
use crate::env_vars::{VAULT_KEY_FILE, VAULT_NEW_PASSPHRASE, VAULT_PASSPHRASE};
use crate::exit::ToolError;

/// Looks up an environment variable; the process environment in the tool,
/// a table in unit tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process environment.
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// One place key material can come from, before it is read.
enum Source {
    KeyFile { path: PathBuf, from: &'static str },
    PassphraseFile { path: PathBuf, from: &'static str },
    PassphraseVar { name: &'static str, value: OsString },
}

impl Source {
    /// The option or variable that gave this source, for messages.
    fn origin(&self) -> &'static str {
        match self {
            Source::KeyFile { from, .. } | Source::PassphraseFile { from, .. } => from,
            Source::PassphraseVar { name, .. } => name,
        }
    }

    fn load(self) -> Result<KeyMaterial, ToolError> {
        let origin = self.origin();
        let key = match self {
            Source::KeyFile { path, from } => {
                warn_if_readable_by_others(&path, from);
                read_key_file(&path, from).map(KeyMaterial::KeyFile)
            }
            Source::PassphraseFile { path, from } => Passphrase::read_file(&path)
                .map(KeyMaterial::Passphrase)
                .map_err(|e| source_error(e, &path, from, "passphrase file")),
            Source::PassphraseVar { name, value } => {
                let text = value.into_string().map_err(|_| {
                    ToolError::usage(format!("{name} is not valid UTF-8"))
                        .hint("set it to the passphrase as UTF-8 text, or use a passphrase file")
                })?;
                Passphrase::new(text)
                    .map(KeyMaterial::Passphrase)
                    .map_err(|_| {
                        ToolError::usage(format!("{name} is set but empty"))
                            .hint(format!("set {name} to the passphrase, or unset it"))
                    })
            }
        }?;
        if let KeyMaterial::Passphrase(passphrase) = &key {
            if passphrase.char_count() < MIN_PASSPHRASE_CHARS {
                warn(&format!(
                    "the passphrase from {origin} has fewer than {MIN_PASSPHRASE_CHARS} characters: it protects the vault's data key against guessing only as far as it is long; add a longer one with `vault key add` and remove this slot"
                ));
            }
        }
        Ok(key)
    }
}

/// Passphrases shorter than this get a warning (they still work).
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// One `warning:` line on stderr; the run goes on.
fn warn(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}

/// A key file that its group or other users may read is a key they hold too.
fn warn_if_readable_by_others(path: &Path, from: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_file() && mode & 0o044 != 0 {
                warn(&format!(
                    "the key file {} (from {from}) is readable by other users (mode {mode:04o}): anyone who reads it can open the vaults it opens; `chmod 600 {}`",
                    path.display(),
                    path.display()
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, from);
}

/// The key material that unlocks a vault, or `None` when none was given.
pub fn unlock_key(args: &KeyArgs, env: EnvLookup<'_>) -> Result<Option<KeyMaterial>, ToolError> {
    let mut sources = Vec::new();
    if let Some(path) = &args.key_file {
        sources.push(Source::KeyFile {
            path: path.clone(),
            from: "--key-file",
        });
    } else if let Some(path) = env(VAULT_KEY_FILE) {
        if path.is_empty() {
            return Err(
                ToolError::usage(format!("{VAULT_KEY_FILE} is set but empty")).hint(format!(
                    "set {VAULT_KEY_FILE} to a key file path, or unset it"
                )),
            );
        }
        sources.push(Source::KeyFile {
            path: path.into(),
            from: VAULT_KEY_FILE,
        });
    }
    if let Some(path) = &args.passphrase_file {
        sources.push(Source::PassphraseFile {
            path: path.clone(),
            from: "--passphrase-file",
        });
    }
    if let Some(value) = env(VAULT_PASSPHRASE) {
        sources.push(Source::PassphraseVar {
            name: VAULT_PASSPHRASE,
            value,
        });
    }
    one_source(sources)?.map(Source::load).transpose()
}

/// Like [`unlock_key`], but key material is required; `purpose` says what
/// needs it ("`vault key add`", "`--read-data`").
pub fn require_unlock_key(
    args: &KeyArgs,
    env: EnvLookup<'_>,
    purpose: &str,
) -> Result<KeyMaterial, ToolError> {
    unlock_key(args, env)?.ok_or_else(|| {
        ToolError::usage(format!("{purpose} needs the vault's key, and none was given"))
            .hint(format!(
                "give --key-file PATH or --passphrase-file PATH, or set {VAULT_KEY_FILE} or {VAULT_PASSPHRASE}"
            ))
    })
}

/// The key material of a new key slot (`vault key add`).
pub fn new_key(args: &NewKeyArgs, env: EnvLookup<'_>) -> Result<KeyMaterial, ToolError> {
    let mut sources = Vec::new();
    if let Some(path) = &args.new_key_file {
        sources.push(Source::KeyFile {
            path: path.clone(),
            from: "--new-key-file",
        });
    }
    if let Some(path) = &args.new_passphrase_file {
        sources.push(Source::PassphraseFile {
            path: path.clone(),
            from: "--new-passphrase-file",
        });
    }
    if let Some(value) = env(VAULT_NEW_PASSPHRASE) {
        sources.push(Source::PassphraseVar {
            name: VAULT_NEW_PASSPHRASE,
            value,
        });
    }
    match one_source(sources)? {
        Some(source) => source.load(),
        None => Err(ToolError::usage("no new key given").hint(format!(
            "give --new-key-file PATH (made by `vault keygen`) or --new-passphrase-file PATH, or set {VAULT_NEW_PASSPHRASE}"
        ))),
    }
}

fn one_source(mut sources: Vec<Source>) -> Result<Option<Source>, ToolError> {
    match sources.len() {
        0 | 1 => Ok(sources.pop()),
        _ => {
            let names: Vec<&str> = sources.iter().map(Source::origin).collect();
            Err(ToolError::usage(format!(
                "more than one key given ({}); give exactly one",
                names.join(" and ")
            ))
            .hint("drop the option you do not mean, or unset the environment variable"))
        }
    }
}

fn read_key_file(path: &Path, from: &str) -> Result<FileKey, ToolError> {
    FileKey::read_file(path).map_err(|e| source_error(e, path, from, "key file"))
}

/// A key source that cannot be read is a configuration error (exit 2).
fn source_error(error: VaultError, path: &Path, from: &str, what: &str) -> ToolError {
    let shown = path.display();
    match error {
        VaultError::Io { source, .. } => ToolError::usage(format!(
            "cannot read the {what} {shown} (from {from}): {source}"
        ))
        .hint(format!("check the path given by {from}")),
        VaultError::InvalidPassphrase { reason } => ToolError::usage(format!(
            "the {what} {shown} (from {from}) is not usable: {reason}"
        ))
        .hint("put the passphrase on the first line of the file"),
        other => ToolError::usage(format!("{other} (from {from})")).hint(other.hint()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn args(key_file: Option<&str>, passphrase_file: Option<&str>) -> KeyArgs {
        KeyArgs {
            key_file: key_file.map(PathBuf::from),
            passphrase_file: passphrase_file.map(PathBuf::from),
        }
    }

    #[test]
    fn no_source_is_none() {
        assert!(
            unlock_key(&args(None, None), &env_of(&[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn passphrase_from_the_environment() {
        let env = env_of(&[(VAULT_PASSPHRASE, "correct horse")]);
        let key = unlock_key(&args(None, None), &env).unwrap().unwrap();
        assert_eq!(key.kind_name(), "passphrase");
    }

    #[test]
    fn two_sources_are_a_usage_error_naming_both() {
        let env = env_of(&[(VAULT_PASSPHRASE, "correct horse")]);
        let error = unlock_key(&args(Some("k"), None), &env).unwrap_err();
        assert_eq!(error.class.code(), 2);
        assert!(error.message.contains("--key-file and VAULT_PASSPHRASE"));
        assert!(!error.message.contains("correct horse"));
        let both_env = env_of(&[(VAULT_KEY_FILE, "k"), (VAULT_PASSPHRASE, "pw")]);
        assert!(unlock_key(&args(None, None), &both_env).is_err());
        assert!(unlock_key(&args(Some("a"), Some("b")), &env_of(&[])).is_err());
    }

    #[test]
    fn the_key_file_option_overrides_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        FileKey::generate().unwrap().write_new_file(&path).unwrap();
        let env = env_of(&[(VAULT_KEY_FILE, "/does/not/exist")]);
        let key = unlock_key(&args(Some(path.to_str().unwrap()), None), &env).unwrap();
        assert_eq!(key.unwrap().kind_name(), "key file");
    }

    #[test]
    fn an_empty_passphrase_variable_is_refused() {
        let env = env_of(&[(VAULT_PASSPHRASE, "")]);
        let error = unlock_key(&args(None, None), &env).unwrap_err();
        assert_eq!(error.message, "VAULT_PASSPHRASE is set but empty");
    }

    #[test]
    fn a_missing_key_file_is_a_usage_error() {
        let error = unlock_key(&args(Some("/no/such/key"), None), &env_of(&[])).unwrap_err();
        assert_eq!(error.class.code(), 2);
        assert!(
            error
                .message
                .starts_with("cannot read the key file /no/such/key")
        );
    }

    #[test]
    fn a_new_key_is_required_and_single() {
        let none = NewKeyArgs {
            new_key_file: None,
            new_passphrase_file: None,
        };
        assert_eq!(
            new_key(&none, &env_of(&[])).unwrap_err().message,
            "no new key given"
        );
        let env = env_of(&[(VAULT_NEW_PASSPHRASE, "pw")]);
        assert_eq!(new_key(&none, &env).unwrap().kind_name(), "passphrase");
        let both = NewKeyArgs {
            new_key_file: Some("k".into()),
            new_passphrase_file: None,
        };
        assert!(
            new_key(&both, &env)
                .unwrap_err()
                .message
                .contains("--new-key-file and VAULT_NEW_PASSPHRASE")
        );
    }
}
