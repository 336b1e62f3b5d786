//! Where the configuration comes from: the file, then `COUPONBRIDGE_…`
//! environment variables, merged by figment. Every merged value keeps
//! figment's tag, which says which of the two gave it; the file's text is
//! kept and parsed by toml's span-aware parser, so a value from the file
//! is also known by its line.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use figment::providers::Env;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::errors::ConfigError;
use super::errors::Origin;

/// `COUPONBRIDGE_` variables that are not configuration: `replay`'s
/// credentials and the build's commit (build.rs; cargo also sets it when
/// it runs the binary). A CI job that exports them and starts `serve` must
/// not see "unknown section".
pub const NOT_CONFIG: [&str; 3] = ["replay_apikey", "replay_secretkey", "commit"];

pub const ENV_PREFIX: &str = "COUPONBRIDGE_";

/// The configuration file: its path (as named) and its text, read once, so
/// values and lines come from the same bytes.
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
            origin: Origin::File {
                file: path.to_owned(),
                line: None,
            },
        })?;
        Ok(ConfigFile {
            path: path.to_owned(),
            text,
        })
    }
}

/// figment's provider for the file, parsed by the same toml parser that
/// finds the lines.
struct FileProvider<'a>(&'a ConfigFile);

impl Provider for FileProvider<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", figment::Source::File(self.0.path.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict: Dict = toml::from_str(&self.0.text).map_err(|e| figment::Error::from(e.to_string()))?;
        Ok(Profile::Default.collect(dict))
    }
}

/// The merged document, and how to tell where each value came from.
pub struct Document {
    pub root: Dict,
    figment: Figment,
    file: Option<FileLines>,
    /// The environment's keys as figment reads them (`tenants.shop.secret_key`).
    env_keys: BTreeSet<String>,
}

/// Each key path of the file and the line it is written on.
struct FileLines {
    path: PathBuf,
    lines: HashMap<String, usize>,
}

impl Document {
    /// The file (if any), then the environment (when `env` is true).
    /// A file that is not TOML gives its syntax errors, each with its line.
    pub fn load(file: Option<&ConfigFile>, env: bool) -> Result<Document, Vec<ConfigError>> {
        let mut figment = Figment::new();
        let mut lines = None;
        if let Some(f) = file {
            lines = Some(FileLines::parse(f)?);
            figment = figment.merge(FileProvider(f));
        }
        let mut env_keys = BTreeSet::new();
        if env {
            let provider = Env::prefixed(ENV_PREFIX).ignore(&NOT_CONFIG).split("__");
            env_keys = provider.iter().map(|(k, _)| k.as_str().to_owned()).collect();
            figment = figment.merge(provider);
        }
        let mut data = figment.data().map_err(|e| {
            e.into_iter()
                .map(|e| ConfigError {
                    key: e.path.join("."),
                    message: e.kind.to_string(),
                    origin: file.map_or(Origin::Default, |f| Origin::File {
                        file: f.path.clone(),
                        line: None,
                    }),
                })
                .collect::<Vec<_>>()
        })?;
        Ok(Document {
            root: data.remove(&Profile::Default).unwrap_or_default(),
            figment,
            file: lines,
            env_keys,
        })
    }

    /// Where the value at `path` came from (`Default` when it is not set).
    pub fn origin_of(&self, path: &[&str], value: Option<&Value>) -> Origin {
        let Some(value) = value else {
            return Origin::Default;
        };
        let Some(meta) = self.figment.get_metadata(value.tag()) else {
            return Origin::Default;
        };
        if let (Some(file), Some(lines)) = (meta.source.as_ref().and_then(|s| s.file_path()), &self.file) {
            return Origin::File {
                file: file.to_owned(),
                line: lines.lines.get(&path.join(".")).copied(),
            };
        }
        // The longest prefix that is a variable: a table may be set whole
        // (`COUPONBRIDGE_SERVER='{listen = "…"}'`).
        // A table set by variables of its keys is named by the first.
        let joined = path.join(".");
        let var = (1..=path.len())
            .rev()
            .map(|n| path[..n].join("."))
            .find(|k| self.env_keys.contains(k))
            .or_else(|| {
                let prefix = format!("{joined}.");
                self.env_keys.iter().find(|k| k.starts_with(&prefix)).cloned()
            })
            .unwrap_or(joined);
        Origin::Env {
            env: format!("{ENV_PREFIX}{}", var.to_ascii_uppercase().replace('.', "__")),
        }
    }

    /// The file as a whole, where an error belongs to no key that is set.
    pub fn file_origin(&self) -> Origin {
        match &self.file {
            Some(f) => Origin::File {
                file: f.path.clone(),
                line: None,
            },
            None => Origin::Default,
        }
    }

    /// SHA-256 (12 hex digits) of the whole merged document, secrets
    /// included in the digest (never as values).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        // serde_json's maps are sorted: the same document, the same bytes.
        let json = serde_json::to_vec(&self.root).unwrap_or_default();
        Sha256::digest(json)
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl FileLines {
    fn parse(file: &ConfigFile) -> Result<FileLines, Vec<ConfigError>> {
        let (table, errors) = toml::de::DeTable::parse_recoverable(&file.text);
        let line_of = |offset: usize| file.text[..offset.min(file.text.len())].matches('\n').count() + 1;
        if !errors.is_empty() {
            return Err(errors
                .iter()
                .map(|e| ConfigError {
                    key: String::new(),
                    message: format!("not valid TOML: {}", e.message()),
                    origin: Origin::File {
                        file: file.path.clone(),
                        line: e.span().map(|s| line_of(s.start)),
                    },
                })
                .collect());
        }
        let mut lines = HashMap::new();
        collect_lines(table.get_ref(), "", &line_of, &mut lines);
        Ok(FileLines {
            path: file.path.clone(),
            lines,
        })
    }
}

fn collect_lines(
    table: &toml::de::DeTable<'_>,
    prefix: &str,
    line_of: &dyn Fn(usize) -> usize,
    out: &mut HashMap<String, usize>,
) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.entry(path.clone()).or_insert_with(|| line_of(key.span().start));
        if let Some(inner) = value.get_ref().as_table() {
            collect_lines(inner, &path, line_of, out);
        }
    }
}
