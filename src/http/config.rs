//! Configuration errors. Every one of them stops a program at start with a message that names the
//! file or variable at fault: nothing here ever "fails open".

use std::path::PathBuf;

/// Why a program refused to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag or variable has a value that cannot be used.
    #[error("{name}: {value:?} is not valid: {why}")]
    Invalid {
        /// The flag or environment variable.
        name: &'static str,
        /// What it was set to (never a secret).
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A file that must be read could not be.
    #[error("{what} {path}: {why}")]
    File {
        /// What the file is for, e.g. "public key".
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// The underlying reason.
        why: String,
    },
    /// A value that must be given was not.
    #[error("missing: {0}")]
    Missing(&'static str),
}

/// What a program's `main` returns on failure: printed by the runtime as one line,
/// `Error: <cause>: <cause of the cause>…`, with no backtrace (whatever `RUST_BACKTRACE` says).
pub struct Fatal(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Fatal {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl std::fmt::Debug for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

/// An absolute `http`/`https` URL with a host and no query or fragment: what every configured base
/// URL and issuer must be. The error names the variable.
pub fn http_url(name: &'static str, raw: &str) -> Result<url::Url, ConfigError> {
    let bad = |why: &str| ConfigError::Invalid {
        name,
        value: raw.to_string(),
        why: why.to_string(),
    };
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(bad("a host is required"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query or fragment is not allowed"));
    }
    Ok(url)
}

/// Splits a comma-separated list, dropping blanks.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_drop_blanks_and_spaces() {
        assert_eq!(split_list(" a, ,b,,c "), vec!["a", "b", "c"]);
        assert!(split_list("").is_empty());
    }

    #[test]
    fn fatal_errors_print_one_line() {
        let fatal = Fatal::from(ConfigError::Missing("JWT_ISSUER"));
        assert_eq!(format!("{fatal:?}"), "missing: JWT_ISSUER");
        let chained = Fatal::from(anyhow::anyhow!("inner").context("outer"));
        assert_eq!(format!("{chained:?}"), "outer: inner");
    }

    #[test]
    fn errors_name_the_cause() {
        let e = ConfigError::File {
            what: "public key",
            path: "keys/x.pem".into(),
            why: "No such file or directory".into(),
        };
        assert_eq!(
            e.to_string(),
            "public key keys/x.pem: No such file or directory"
        );
    }
}
