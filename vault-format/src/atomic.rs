//! Partial files and the fsync-then-rename that publishes a finished vault (SPEC.md section 8).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Result, VaultError};

/// A `.NAME.XXXXXX.partial` file beside `final_path`, removed on drop unless published.
pub(crate) struct PartialFile {
    path: PathBuf,
    published: bool,
}

impl PartialFile {
    /// Creates a new empty partial file with mode 0600.
    pub(crate) fn create_beside(final_path: &Path) -> Result<Self> {
        let folder = parent_folder(final_path);
        let name = final_path
            .file_name()
            .ok_or_else(|| VaultError::Usage {
                detail: format!("{} is not a file path", final_path.display()),
            })?
            .to_string_lossy();
        let suffix = hex::encode(crate::random::array::<6>()?);
        let path = folder.join(format!(".{name}.{suffix}.partial"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        // The error names the file the caller asked for: the partial name
        // is this module's business (a missing or read-only folder).
        options
            .open(&path)
            .map_err(|e| VaultError::io(final_path, e))?;
        Ok(PartialFile {
            path,
            published: false,
        })
    }

    /// Creates a partial copy of an existing vault, for a key-slot edit.
    pub(crate) fn copy_of(original: &Path) -> Result<Self> {
        let partial = PartialFile::create_beside(original)?;
        std::fs::copy(original, &partial.path).map_err(|e| VaultError::io(original, e))?;
        Ok(partial)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// fsyncs the file, renames it to `final_path` and fsyncs the folder.
    /// With `replace` false, an existing `final_path` is refused.
    pub(crate) fn publish(mut self, final_path: &Path, replace: bool) -> Result<()> {
        File::open(&self.path)
            .and_then(|file| file.sync_all())
            .map_err(|e| VaultError::io(&self.path, e))?;
        if replace {
            std::fs::rename(&self.path, final_path).map_err(|e| VaultError::io(final_path, e))?;
        } else {
            // A hard link fails when the target exists, so a vault never
            // replaces another by accident, even in a race.
            std::fs::hard_link(&self.path, final_path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => VaultError::AlreadyExists {
                    path: final_path.to_owned(),
                },
                _ => VaultError::io(final_path, e),
            })?;
            std::fs::remove_file(&self.path).map_err(|e| VaultError::io(&self.path, e))?;
        }
        self.published = true;
        let folder = parent_folder(final_path);
        File::open(&folder)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| VaultError::io(&folder, e))?;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn parent_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}
