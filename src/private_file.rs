//! Files only their owner may read (0600), written whole or not at all: under a temporary name beside the final one, synced, then renamed, so that a crash or a full disk leaves no empty or half file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// What to do when the final name is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail: evidence is never overwritten.
    Refuse,
    /// Replace it whole.
    Replace,
}

/// Writes `bytes` to `path` (mode 0600) through a temporary file; on any
/// failure the temporary file is removed and `path` is as it was.
pub fn write_whole(path: &Path, bytes: &[u8], existing: Existing) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.partial"));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if existing == Existing::Refuse && path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            ));
        }
        std::fs::rename(&partial, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_whole_for_the_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        write_whole(&path, b"one", Existing::Refuse).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_whole(&path, b"two", Existing::Refuse).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_whole(&path, b"two", Existing::Replace).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
