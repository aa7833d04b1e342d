//! Reads the options: defaults in code, then the configuration file, then `CONFAB_*`
//! variables, then flags. The model and sign-in providers, whose variables are named after each
//! provider, are put together here from their lists and the file's tables.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use confab_core::auth::oidc::{ProviderConfig, ProviderKind};
use secrecy::SecretString;
use serde::Deserialize;

use super::{Cli, ModelProvider, ProviderUrl, DEFAULT_PROVIDER};

/// Reads an environment variable by name.
pub type Environment = Box<dyn Fn(&str) -> Option<String>>;

/// Where the options are read from besides the defaults in code.
pub struct Sources {
    /// The command line, program name first.
    pub args: Vec<OsString>,
    /// Reads a variable: the process environment, or a map in tests (the process environment
    /// is shared by every test of a binary).
    pub env: Environment,
    /// The file read when neither `--config` nor `CONFAB_CONFIG` names one, if it exists.
    pub default_file: Option<PathBuf>,
}

impl Sources {
    /// This process's command line and environment, and `./confab.toml`.
    pub fn of_process() -> Sources {
        Sources {
            args: std::env::args_os().collect(),
            env: Box::new(|name| std::env::var(name).ok()),
            default_file: Some(PathBuf::from("confab.toml")),
        }
    }
}

/// Why the configuration could not be read; Confab does not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag is wrong, or the command line asks for the help or the version
    /// (`clap::Error::exit` prints either).
    #[error(transparent)]
    CommandLine(#[from] clap::Error),
    #[error("cannot read the configuration file {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    NotToml { path: PathBuf, reason: String },
    #[error("{}: unknown key `{key}`", path.display())]
    UnknownKey { path: PathBuf, key: String },
    #[error("{}: `{key}` must be a string, a number or a boolean", path.display())]
    NotAValue { path: PathBuf, key: String },
    /// A value that does not parse; `origin` names the variable, or the file and key.
    #[error("{origin}: {reason}")]
    Invalid { origin: String, reason: String },
}

impl Cli {
    /// Reads the configuration: defaults in code, then the file, then `CONFAB_*` variables,
    /// then flags; each option takes its value from the last of these that sets it.
    ///
    /// clap stays the one definition of every option (its help, default and parser): the file
    /// and the variables are fed to it as defaults of a second parse, which only the flags it
    /// finds on the command line override. figment and the `config` crate would need a second,
    /// serde-typed copy of every option and default, and their environment sources read the
    /// variables named after a provider (`CONFAB_OIDC_<NAME>_ISSUER`) and the tests' own
    /// (`CONFAB_TEST_MONGODB_URL`) as unknown options. clap reads the process environment
    /// itself, so the parses here run without the options' `env` and the variables come from
    /// `sources.env`.
    pub fn load(sources: Sources) -> Result<Cli, ConfigError> {
        let documented = Cli::command();
        let mut command = documented.clone().mut_args(|arg| arg.env(None));
        let flags = command
            .clone()
            .try_get_matches_from(&sources.args)
            .map_err(|error| match error.kind() {
                // The help lists each option's variable, which `command` no longer knows.
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => documented
                    .clone()
                    .try_get_matches_from(&sources.args)
                    .err()
                    .unwrap_or(error),
                _ => error,
            })?;
        let env = &sources.env;
        let named = flags.get_one::<PathBuf>("config").cloned().or_else(|| {
            env("CONFAB_CONFIG")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
        });
        let file = match (named, sources.default_file) {
            (Some(path), _) => Some(File::read(path)?),
            (None, Some(path)) if path.exists() => Some(File::read(path)?),
            (None, _) => None,
        };
        // Every option but the file itself; the help and the version set nothing.
        let options: Vec<&clap::Arg> = documented
            .get_arguments()
            .filter(|arg| {
                arg.get_long().is_some()
                    && !["help", "version", "config"].contains(&arg.get_id().as_str())
            })
            .collect();
        if let Some(file) = &file {
            file.check_keys(&options)?;
        }
        for arg in options {
            let id = arg.get_id().as_str();
            if flags.value_source(id) == Some(ValueSource::CommandLine) {
                continue;
            }
            let variable = arg
                .get_env()
                .map(|name| name.to_string_lossy().into_owned());
            let from_env = variable.and_then(|name| env(&name).map(|value| (value, name)));
            let found = match from_env {
                Some(found) => Some(found),
                None => match &file {
                    Some(file) => file.value(id)?,
                    None => None,
                },
            };
            if let Some((value, origin)) = found {
                check_value(arg, &value)
                    .map_err(|reason| ConfigError::Invalid { origin, reason })?;
                command = command.mut_arg(id, |arg| arg.default_value(value));
            }
        }
        let matches = command.try_get_matches_from(&sources.args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let tables = file.as_ref().map(|file| &file.tables);
        cli.config.providers = model_providers(
            cli.lists.providers.as_deref(),
            tables.map_or(&[], |tables| &tables.providers),
            env,
        )?;
        cli.config.oidc_providers = oidc_providers(
            cli.lists.oidc_providers.as_deref(),
            tables.map_or(&[], |tables| &tables.oidc_providers),
            env,
        )?;
        cli.config.config_file = file.map(|file| file.path);
        Ok(cli)
    }
}

/// Parses one value the way its flag would be, to name the variable or key it came from when
/// it is wrong.
fn check_value(arg: &clap::Arg, value: &str) -> Result<(), String> {
    let long = arg.get_long().unwrap_or_default();
    clap::Command::new("confab")
        .no_binary_name(true)
        .arg(arg.clone().env(None).global(false).required(false))
        .try_get_matches_from([format!("--{long}={value}")])
        .map(drop)
        .map_err(|error| match std::error::Error::source(&error) {
            // A parser's own message, which never repeats a secret.
            Some(reason) if error.kind() == ErrorKind::ValueValidation => reason.to_string(),
            _ => {
                let rendered = error.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let first = first.trim_start_matches("error: ");
                match error.get(ContextKind::ValidValue) {
                    Some(ContextValue::Strings(valid)) => {
                        format!("{first}: one of {}", valid.join(", "))
                    }
                    _ => first.to_owned(),
                }
            }
        })
}

/// The configuration file, read and split into options and provider tables.
struct File {
    path: PathBuf,
    options: toml::Table,
    tables: FileTables,
}

/// The file's provider tables; the options stay a plain table, checked against the flags.
#[derive(Default, Deserialize)]
struct FileTables {
    #[serde(default)]
    providers: Vec<FileModelProvider>,
    #[serde(default)]
    oidc_providers: Vec<FileSignInProvider>,
    #[serde(flatten)]
    options: toml::Table,
}

/// `[[providers]]`: a model provider besides the default one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModelProvider {
    name: String,
    base_url: String,
    api_key: Option<SecretString>,
}

/// `[[oidc_providers]]`: an OpenID Connect provider to sign in with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSignInProvider {
    name: String,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scopes: Option<Vec<String>>,
    display_name: Option<String>,
}

/// Where the file is wrong and why, without the line itself: toml's own report quotes the
/// source line, and the line may hold a secret (`api_key = sk-…` with its quotes forgotten),
/// which would then reach the service's log.
fn parse_error(text: &str, error: &toml::de::Error) -> String {
    let reason = error.message().trim_end();
    let Some(span) = error.span() else {
        return reason.to_owned();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    format!("TOML parse error at line {line}, column {column}: {reason}")
}

impl File {
    fn read(path: PathBuf) -> Result<File, ConfigError> {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                return Err(ConfigError::Unreadable {
                    path,
                    reason: error.to_string(),
                })
            }
        };
        match toml::from_str::<FileTables>(&text) {
            Ok(mut tables) => Ok(File {
                path,
                options: std::mem::take(&mut tables.options),
                tables,
            }),
            Err(error) => Err(ConfigError::NotToml {
                path,
                reason: parse_error(&text, &error),
            }),
        }
    }

    /// Refuses a key that is no option: a misspelt one would otherwise be ignored in silence.
    fn check_keys(&self, options: &[&clap::Arg]) -> Result<(), ConfigError> {
        match self
            .options
            .keys()
            .find(|key| !options.iter().any(|arg| arg.get_id() == key.as_str()))
        {
            Some(key) => Err(ConfigError::UnknownKey {
                path: self.path.clone(),
                key: key.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The option `key` as its flag would be written, and where it came from.
    fn value(&self, key: &str) -> Result<Option<(String, String)>, ConfigError> {
        let value = match self.options.get(key) {
            None => return Ok(None),
            Some(toml::Value::String(text)) => text.clone(),
            Some(toml::Value::Integer(number)) => number.to_string(),
            Some(toml::Value::Boolean(flag)) => flag.to_string(),
            Some(_) => {
                return Err(ConfigError::NotAValue {
                    path: self.path.clone(),
                    key: key.to_owned(),
                })
            }
        };
        Ok(Some((value, format!("{}: `{key}`", self.path.display()))))
    }
}

/// A provider's name as its variables write it: capitals, `-` as `_`.
fn variable_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// A provider's name goes into URLs (`/auth/{name}/login`), model names (`name/model`) and
/// variable names.
fn check_name(name: &str, what: &str) -> Result<(), ConfigError> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        origin: what.to_owned(),
        reason: format!("the name {name:?} must be letters, digits, - or _"),
    })
}

/// Two providers of one name would answer to the same URLs and models, and two whose names
/// differ only as variable names do (`a-b` and `A_B`) would read each other's secrets.
fn check_unique<'a>(
    mut names: impl Iterator<Item = &'a String>,
    what: &str,
) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    match names.find(|name| !seen.insert(variable_name(name))) {
        Some(name) => Err(ConfigError::Invalid {
            origin: what.to_owned(),
            reason: format!("the name {name:?} is given twice"),
        }),
        None => Ok(()),
    }
}

/// The model providers besides the default: those `--providers` lists, else the file's, each
/// with its key from `CONFAB_PROVIDER_<NAME>_API_KEY`, else from its table in the file.
fn model_providers(
    listed: Option<&str>,
    in_file: &[FileModelProvider],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ModelProvider>, ConfigError> {
    let entries: Vec<(String, String)> = match listed {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .enumerate()
            .map(|(index, entry)| {
                entry
                    .split_once('=')
                    .map(|(name, url)| (name.trim().to_owned(), url.trim().to_owned()))
                    // Not the entry itself: it may be a URL with a key in it.
                    .ok_or_else(|| ConfigError::Invalid {
                        origin: "providers".into(),
                        reason: format!("entry {} is not name=base_url", index + 1),
                    })
            })
            .collect::<Result<_, _>>()?,
        None => in_file
            .iter()
            .map(|provider| (provider.name.clone(), provider.base_url.clone()))
            .collect(),
    };
    if entries.iter().any(|(name, _)| name == DEFAULT_PROVIDER) {
        return Err(ConfigError::Invalid {
            origin: "providers".into(),
            reason: format!(
                "the name {DEFAULT_PROVIDER:?} is the provider of --openai-base-url; give this one another name"
            ),
        });
    }
    check_unique(entries.iter().map(|(name, _)| name), "providers")?;
    entries
        .into_iter()
        .map(|(name, base_url)| {
            check_name(&name, "providers")?;
            let api_key = env(&format!("CONFAB_PROVIDER_{}_API_KEY", variable_name(&name)))
                .filter(|key| !key.is_empty())
                .map(SecretString::from)
                .or_else(|| {
                    in_file
                        .iter()
                        .find(|provider| provider.name == name)
                        .and_then(|provider| provider.api_key.clone())
                });
            Ok(ModelProvider {
                name,
                base_url: ProviderUrl::from(base_url),
                api_key,
            })
        })
        .collect()
}

/// The OpenID Connect providers: those `--oidc-providers` names, else the file's, each field
/// from `CONFAB_OIDC_<NAME>_<FIELD>`, else from its table in the file.
fn oidc_providers(
    listed: Option<&str>,
    in_file: &[FileSignInProvider],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ProviderConfig>, ConfigError> {
    let names: Vec<String> = match listed {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        None => in_file
            .iter()
            .map(|provider| provider.name.clone())
            .collect(),
    };
    check_unique(names.iter(), "oidc_providers")?;
    names
        .into_iter()
        .map(|name| {
            check_name(&name, "oidc_providers")?;
            let table = in_file.iter().find(|provider| provider.name == name);
            let variable = |field: &str| {
                env(&format!("CONFAB_OIDC_{}_{field}", variable_name(&name)))
                    .filter(|value| !value.trim().is_empty())
            };
            let required = |field: &str, in_table: Option<&String>| {
                variable(&field.to_ascii_uppercase())
                    .or_else(|| in_table.cloned())
                    .ok_or_else(|| ConfigError::Invalid {
                        origin: format!("sign-in provider {name:?}"),
                        reason: format!(
                            "no {field}: set CONFAB_OIDC_{}_{} or `{field}` in its \
                             [[oidc_providers]] table",
                            variable_name(&name),
                            field.to_ascii_uppercase()
                        ),
                    })
            };
            let issuer = required("issuer", table.and_then(|table| table.issuer.as_ref()))?;
            let client_id = required(
                "client_id",
                table.and_then(|table| table.client_id.as_ref()),
            )?;
            let scopes = match variable("SCOPES") {
                Some(scopes) => scopes.split_whitespace().map(str::to_owned).collect(),
                None => table
                    .and_then(|table| table.scopes.clone())
                    .unwrap_or_else(|| ["openid", "email", "profile"].map(str::to_owned).to_vec()),
            };
            Ok(ProviderConfig {
                display_name: variable("DISPLAY_NAME")
                    .or_else(|| table.and_then(|table| table.display_name.clone()))
                    .unwrap_or_else(|| name.clone()),
                kind: ProviderKind::Oidc { issuer },
                client_id,
                client_secret: variable("CLIENT_SECRET")
                    .map(SecretString::from)
                    .or_else(|| table.and_then(|table| table.client_secret.clone())),
                scopes,
                name,
            })
        })
        .collect()
}
