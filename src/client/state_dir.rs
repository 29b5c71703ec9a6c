//! Step 11's state directory (`--state-dir`): one private file per issuer and kind — the
//! registered client (`client-…`), its tokens (`tokens-…`), its DPoP key (`dpop-…`) — in a 0700
//! directory, each file 0600 and written whole. The stores (`client::registration`,
//! `client::tokens`, `client::dpop`) share these helpers and this error.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A file or directory of the state directory could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("state directory {path}: {reason}")]
pub struct StoreError {
    /// The file or directory.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

/// `<dir>/<prefix>-<first 16 characters of base64url(SHA-256(issuer))>.json`: one file per issuer
/// in the state directory, named so that the issuer needs no escaping.
pub(crate) fn issuer_file(dir: &Path, prefix: &str, issuer: &str) -> PathBuf {
    let digest = crate::auth::keys::sha256_b64url(issuer.as_bytes());
    dir.join(format!("{prefix}-{}.json", &digest[..16]))
}

/// The text of `path`; `None` when there is no such file, `Err` when it cannot be read.
pub(crate) fn read_if_present(path: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(store_error(path, e)),
    }
}

/// A fresh directory path under the system's temporary directory for one test (not created).
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "step11-{name}-{}-{}",
        std::process::id(),
        crate::auth::keys::sha256_b64url(&crate::auth::keys::random_bytes(8))
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Writes `value` as JSON to `path` inside `dir`: the directory 0700 (created when missing), the
/// file 0600, written to a temporary file and renamed so that a reader never sees half a file.
pub(crate) fn save_private_json(
    dir: &Path,
    path: &Path,
    value: &impl Serialize,
) -> Result<(), StoreError> {
    create_private_dir(dir).map_err(|e| store_error(dir, e))?;
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(value).map_err(|e| store_error(path, e))?;
    write_private_file(&tmp, text.as_bytes()).map_err(|e| store_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| store_error(path, e))
}

/// A [`StoreError`] for `path`.
pub(crate) fn store_error(path: &Path, e: impl fmt::Display) -> StoreError {
    StoreError {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` only applies when the file is created; a leftover file keeps its old mode.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
