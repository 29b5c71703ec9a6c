//! Steps 9–10: configuration from flags, the environment and an env file — with stated
//! precedence, and a printout that says where each value came from.
//!
//! Precedence: **flag > process environment > env file > default**. The env file (`--env FILE`,
//! read with dotenvy) never changes the process environment; it is only a lower layer. A missing or
//! unreadable env file stops the program: falling back silently to defaults would point a server at
//! the wrong issuer without anyone noticing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::http::config::ConfigError;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// The process environment.
    Environment,
    /// The `--env` file.
    EnvFile,
    /// Built in (or derived from other values).
    Default,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Environment => "environment",
            Source::EnvFile => "env file",
            Source::Default => "default",
        }
    }
}

/// The variables of an env file.
#[derive(Debug, Clone, Default)]
pub struct EnvFile {
    path: Option<PathBuf>,
    values: HashMap<String, String>,
}

impl EnvFile {
    /// Reads `path`; any problem (missing, unreadable, malformed line) stops the program.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bad = |why: String| ConfigError::File {
            what: "env file",
            path: path.to_path_buf(),
            why,
        };
        let iter = dotenvy::from_path_iter(path).map_err(|e| bad(e.to_string()))?;
        let mut values = HashMap::new();
        for item in iter {
            let (key, value) = item.map_err(|e| bad(e.to_string()))?;
            values.insert(key, value);
        }
        Ok(Self {
            path: Some(path.to_path_buf()),
            values,
        })
    }

    /// `load` when a path is given, else an empty layer.
    pub fn load_optional(path: Option<&Path>) -> Result<Self, ConfigError> {
        path.map_or_else(|| Ok(Self::default()), Self::load)
    }

    /// A variable from the file.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The file's path, if one was read.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// One resolved setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The variable name, e.g. `JWT_ISSUER`.
    pub name: &'static str,
    /// The value.
    pub value: String,
    /// Where it came from.
    pub source: Source,
    /// Secrets are printed as `(set)`.
    pub secret: bool,
}

/// Resolves settings against parsed flags and an env file, and remembers them for the printout.
#[derive(Debug)]
pub struct Resolver<'a> {
    matches: &'a ArgMatches,
    file: &'a EnvFile,
    settings: Vec<Setting>,
}

impl<'a> Resolver<'a> {
    /// `matches` must come from a command whose args carry `env = NAME` where a variable applies.
    pub fn new(matches: &'a ArgMatches, file: &'a EnvFile) -> Self {
        Self {
            matches,
            file,
            settings: Vec::new(),
        }
    }

    /// The value of flag `arg_id` (variable `name`), by precedence; `default` when nothing set it.
    pub fn value(
        &mut self,
        arg_id: &str,
        name: &'static str,
        default: Option<String>,
    ) -> Option<String> {
        self.resolve(arg_id, name, default, false)
    }

    /// Like [`Resolver::value`], printed as `(set)`.
    pub fn secret(&mut self, arg_id: &str, name: &'static str) -> Option<String> {
        self.resolve(arg_id, name, None, true)
    }

    /// A comma-separated list.
    pub fn list(&mut self, arg_id: &str, name: &'static str) -> Vec<String> {
        let from_flags = self
            .matches
            .get_many::<String>(arg_id)
            .map(|v| v.cloned().collect::<Vec<_>>());
        let source = self.matches.value_source(arg_id);
        let (values, source) = match (source, from_flags) {
            (Some(ValueSource::CommandLine), Some(v)) => (v, Source::Flag),
            (Some(ValueSource::EnvVariable), Some(v)) => (v, Source::Environment),
            _ => match self.file.get(name) {
                Some(raw) => (crate::http::config::split_list(raw), Source::EnvFile),
                None => (Vec::new(), Source::Default),
            },
        };
        if !values.is_empty() {
            self.settings.push(Setting {
                name,
                value: values.join(","),
                source,
                secret: false,
            });
        }
        values
    }

    fn resolve(
        &mut self,
        arg_id: &str,
        name: &'static str,
        default: Option<String>,
        secret: bool,
    ) -> Option<String> {
        let from_flags = self.matches.get_one::<String>(arg_id).cloned();
        let (value, source) = match (self.matches.value_source(arg_id), from_flags) {
            (Some(ValueSource::CommandLine), Some(v)) => (Some(v), Source::Flag),
            (Some(ValueSource::EnvVariable), Some(v)) => (Some(v), Source::Environment),
            (_, clap_default) => match self.file.get(name) {
                Some(v) => (Some(v.to_string()), Source::EnvFile),
                None => (default.or(clap_default), Source::Default),
            },
        };
        if let Some(value) = &value {
            self.settings.push(Setting {
                name,
                value: value.clone(),
                source,
                secret,
            });
        }
        value
    }

    /// What was resolved, in order.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The effective configuration as printable lines (secrets hidden). The name column is as
    /// wide as the longest name, and at least 16 characters, so that every `=` lines up.
    pub fn report(&self) -> String {
        let width = self
            .settings
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0)
            .max(16);
        let mut out =
            String::from("effective configuration (flag > environment > env file > default):\n");
        if let Some(path) = self.file.path() {
            out.push_str(&format!("  env file: {}\n", path.display()));
        }
        for s in &self.settings {
            let shown = if s.secret {
                "(set)".to_string()
            } else {
                s.value.clone()
            };
            out.push_str(&format!(
                "  {:<width$} = {:<48} [{}]\n",
                s.name,
                shown,
                s.source.label()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn command() -> Command {
        Command::new("t")
            .arg(
                Arg::new("issuer")
                    .long("jwt-issuer")
                    .env("TEST_ENVCFG_JWT_ISSUER"),
            )
            .arg(
                Arg::new("audience")
                    .long("jwt-audience")
                    .env("TEST_ENVCFG_JWT_AUDIENCE"),
            )
            .arg(
                Arg::new("url")
                    .long("url")
                    .env("TEST_ENVCFG_URL")
                    .default_value("http://default"),
            )
            .arg(
                Arg::new("password")
                    .long("password")
                    .env("TEST_ENVCFG_PASSWORD"),
            )
    }

    fn file(pairs: &[(&str, &str)]) -> EnvFile {
        EnvFile {
            path: Some("test.env".into()),
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let m = command().get_matches_from(["t", "--jwt-issuer", "http://flag"]);
        let f = file(&[
            ("TEST_ENVCFG_JWT_ISSUER", "http://file"),
            ("TEST_ENVCFG_JWT_AUDIENCE", "aud-file"),
            ("TEST_ENVCFG_URL", "http://file-url"),
        ]);
        let mut r = Resolver::new(&m, &f);
        assert_eq!(
            r.value("issuer", "TEST_ENVCFG_JWT_ISSUER", None).as_deref(),
            Some("http://flag")
        );
        assert_eq!(
            r.value("audience", "TEST_ENVCFG_JWT_AUDIENCE", None)
                .as_deref(),
            Some("aud-file")
        );
        assert_eq!(
            r.value("url", "TEST_ENVCFG_URL", None).as_deref(),
            Some("http://file-url")
        );
        let sources: Vec<Source> = r.settings().iter().map(|s| s.source).collect();
        assert_eq!(
            sources,
            vec![Source::Flag, Source::EnvFile, Source::EnvFile]
        );
    }

    #[test]
    fn defaults_apply_when_nothing_is_set_and_secrets_stay_hidden() {
        let m = command().get_matches_from(["t", "--password", "hunter2"]);
        let f = file(&[]);
        let mut r = Resolver::new(&m, &f);
        assert_eq!(
            r.value("url", "TEST_ENVCFG_URL", None).as_deref(),
            Some("http://default")
        );
        assert_eq!(
            r.value(
                "issuer",
                "TEST_ENVCFG_JWT_ISSUER",
                Some("http://derived".into())
            )
            .as_deref(),
            Some("http://derived")
        );
        assert_eq!(
            r.secret("password", "TEST_ENVCFG_PASSWORD").as_deref(),
            Some("hunter2")
        );
        let report = r.report();
        assert!(
            report.contains("(set)") && !report.contains("hunter2"),
            "{report}"
        );
        assert!(report.contains("[default]"));
    }

    #[test]
    fn the_name_column_fits_the_longest_name() {
        let m = command().get_matches_from(["t", "--password", "hunter2"]);
        let f = file(&[("TEST_ENVCFG_URL", "http://file-url")]);
        let mut r = Resolver::new(&m, &f);
        r.value("url", "TEST_ENVCFG_URL", None);
        assert_eq!(
            r.report(),
            "effective configuration (flag > environment > env file > default):\n\
             \x20 env file: test.env\n\
             \x20 TEST_ENVCFG_URL  = http://file-url                                  [env file]\n"
        );
        r.secret("password", "TEST_ENVCFG_PASSWORD");
        assert_eq!(
            r.report(),
            "effective configuration (flag > environment > env file > default):\n\
             \x20 env file: test.env\n\
             \x20 TEST_ENVCFG_URL      = http://file-url                                  [env file]\n\
             \x20 TEST_ENVCFG_PASSWORD = (set)                                            [flag]\n"
        );
    }

    #[test]
    fn a_missing_env_file_is_an_error_naming_it() {
        let err = EnvFile::load(Path::new("env/does-not-exist.env"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("env file env/does-not-exist.env:"), "{err}");
    }
}
