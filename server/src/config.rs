//! Every option Confab reads, in one place. Defaults live here; each can be set by a
//! `CONFAB_*` environment variable or the flag of the same name (flags win).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use confab_core::auth::oidc::{ProviderConfig, ProviderKind};
use confab_core::provider::ProviderSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::client::{Proxies, ProxyHeaders, TrustedProxies};

#[derive(Debug, Parser)]
#[command(
    name = "confab",
    version,
    about = "Confab: a self-hosted AI chat that never loses a message",
    after_help = MORE_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
    #[command(flatten)]
    lists: ProviderLists,
}

/// What `--help` says after the options: the file, the order of the sources, and the
/// variables named after a provider, which clap cannot list as options.
const MORE_HELP: &str = "\
Every option can also be set in the configuration file (--config, else ./confab.toml if it
exists) under the flag's name with `_` for `-`, e.g. `max_body_bytes = 65536`. Flags win over
CONFAB_* variables, which win over the file, which wins over the defaults. A key the file does not
know stops Confab at start-up. docs/confab.example.toml is a complete, commented example.

Variables named after a provider (NAME in capitals, `-` written `_`):
  CONFAB_PROVIDER_<NAME>_API_KEY     API key of a provider listed in --providers
  CONFAB_OIDC_<NAME>_ISSUER          issuer URL of a provider listed in --oidc-providers (required)
  CONFAB_OIDC_<NAME>_CLIENT_ID       its client id (required)
  CONFAB_OIDC_<NAME>_CLIENT_SECRET   its client secret
  CONFAB_OIDC_<NAME>_SCOPES          its scopes, separated by spaces (default: openid email profile)
  CONFAB_OIDC_<NAME>_DISPLAY_NAME    its sign-in button's label (default: NAME)

In the file, providers are tables (see the example):
  [[providers]]       name, base_url, api_key
  [[oidc_providers]]  name, issuer, client_id, client_secret, scopes (a list), display_name
--providers and --oidc-providers (or their variables), when set, replace the file's list; a
provider they name still takes from its table in the file what no variable sets.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server (the default).
    Serve,
    /// Import a conversation file (Confab, ChatGPT, Open WebUI, LibreChat, chatbot-ui; JSON or
    /// ZIP) into an account. Progress goes to stderr; the import report, as `POST /api/import`
    /// answers it, to stdout as JSON.
    Import {
        /// The file to import.
        file: PathBuf,
        /// Email of the account that receives the conversations.
        #[arg(long)]
        user: String,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Signup {
    /// Anyone may create an account.
    #[default]
    Open,
    /// Only the first (admin) account can be created by signing up.
    Closed,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SqliteSync {
    /// Survives a crash of Confab; the last commits may be lost on power failure.
    #[default]
    Normal,
    /// Every group commit is synced to disk.
    Full,
}

#[derive(Clone, Debug, Args)]
pub struct Config {
    /// The configuration file (TOML). Without it, `confab.toml` in the working directory is read
    /// if it exists. After loading: the file that was read, if any.
    #[arg(
        id = "config",
        long = "config",
        env = "CONFAB_CONFIG",
        value_name = "PATH",
        global = true
    )]
    pub config_file: Option<PathBuf>,

    /// Address to listen on.
    #[arg(
        long,
        env = "CONFAB_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,

    /// Directory of the embedded database (used when no database URL is given).
    #[arg(long, env = "CONFAB_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Another store: `mongodb://...`, or `sqlite:PATH` for an explicit SQLite file.
    #[arg(
        long,
        env = "CONFAB_DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub database_url: Option<SecretString>,

    /// Who may create accounts once the first (admin) account exists.
    #[arg(long, env = "CONFAB_SIGNUP", value_enum, default_value_t = Signup::Open, global = true)]
    pub signup: Signup,

    /// The address users reach Confab at, e.g. `https://chat.example.com`. When set, a
    /// browser's write must come from exactly this origin (whatever `Host` a proxy passes on);
    /// `https://...` makes sign-in cookies Secure. Refused at start-up unless `http://` or
    /// `https://` and a host.
    #[arg(
        long,
        env = "CONFAB_PUBLIC_URL",
        value_parser = parse_public_url,
        global = true,
        hide_env_values = true
    )]
    pub public_url: Option<String>,

    /// Reverse proxies whose forwarding headers are believed: IP addresses and CIDR ranges,
    /// separated by commas (e.g. `127.0.0.1,10.0.0.0/8`). From a peer in this list, the client's
    /// address is the rightmost address of the forwarding header that is not itself a trusted
    /// proxy, and its scheme and host are the ones the proxy forwarded. From anyone else those
    /// headers are ignored. Empty (the default): the socket peer is the client. An entry that
    /// is not an address or range is refused at start-up.
    #[arg(
        long,
        env = "CONFAB_TRUSTED_PROXIES",
        default_value = "",
        value_parser = TrustedProxies::parse,
        global = true
    )]
    pub trusted_proxies: TrustedProxies,

    /// The forwarding headers the trusted proxies write, the only ones read: `x-forwarded`
    /// (`X-Forwarded-For`, `-Proto`, `-Host`: nginx, Caddy, HAProxy, most load balancers) or
    /// `forwarded` (RFC 7239). A proxy passes the other family on as the client sent it.
    #[arg(long, env = "CONFAB_PROXY_HEADERS", value_enum, default_value_t = ProxyHeaders::XForwarded, global = true)]
    pub proxy_headers: ProxyHeaders,

    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "CONFAB_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Largest import file accepted, in bytes.
    #[arg(long, env = "CONFAB_MAX_IMPORT_BYTES", default_value_t = 512 * 1024 * 1024, global = true)]
    pub max_import_bytes: usize,

    /// How hard the embedded store pushes each commit to disk.
    #[arg(long, env = "CONFAB_SQLITE_SYNC", value_enum, default_value_t = SqliteSync::Normal, global = true)]
    pub sqlite_sync: SqliteSync,

    /// Sign-in attempts allowed per email and per client address in 5 minutes (each counted
    /// before its password is checked; a successful sign-in clears them).
    #[arg(
        long,
        env = "CONFAB_LOGIN_ATTEMPTS",
        default_value_t = 10,
        global = true
    )]
    pub login_attempts: u32,

    /// Sign-ups allowed per client address in an hour (each counted before its password is
    /// hashed).
    #[arg(
        long,
        env = "CONFAB_SIGNUP_ATTEMPTS",
        default_value_t = 10,
        global = true
    )]
    pub signup_attempts: u32,

    /// The default model provider: any OpenAI-compatible endpoint (Ollama's by default).
    #[arg(
        long,
        env = "CONFAB_OPENAI_BASE_URL",
        default_value = "http://127.0.0.1:11434/v1",
        global = true,
        hide_env_values = true
    )]
    pub openai_base_url: String,

    /// API key of the default provider (not needed by Ollama).
    #[arg(
        long,
        env = "CONFAB_OPENAI_API_KEY",
        global = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub openai_api_key: Option<SecretString>,

    /// Model used when a request names none.
    #[arg(
        long,
        env = "CONFAB_DEFAULT_MODEL",
        default_value = "llama3.2",
        global = true
    )]
    pub default_model: String,

    /// More model providers (from `--providers` or the file's `[[providers]]`), each with its
    /// key; their models are addressed as `name/model`.
    #[arg(skip)]
    pub providers: Vec<ModelProvider>,

    /// Largest reply a model may give, in bytes (at most 8 MiB). Confab stops reading the
    /// provider there and keeps what arrived as `partial`, reason `too_long`.
    #[arg(long, env = "CONFAB_MAX_REPLY_BYTES", default_value_t = confab_core::model::DEFAULT_MAX_REPLY_BYTES, global = true)]
    pub max_reply_bytes: usize,

    /// Seconds the model provider may stay silent (before its answer and between two chunks)
    /// before the reply is saved as `partial`, reason `provider_stalled`.
    #[arg(
        long,
        env = "CONFAB_PROVIDER_IDLE_TIMEOUT",
        default_value_t = 120,
        global = true
    )]
    pub provider_idle_timeout: u64,

    /// Seconds a shutdown (SIGTERM, Ctrl-C) waits for replies still streaming; what is left
    /// then is saved as `partial`, reason `shutdown`.
    #[arg(
        long,
        env = "CONFAB_SHUTDOWN_GRACE",
        default_value_t = 10,
        global = true
    )]
    pub shutdown_grace: u64,

    /// Milliseconds between two saves of a reply while it streams (at most 2000): what a
    /// crash can lose.
    #[arg(
        long,
        env = "CONFAB_REPLY_CHECKPOINT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub reply_checkpoint_ms: u64,

    /// Seconds a finished reply's save is retried (a full disk, a database failing over)
    /// before the client is handed the whole text to keep and save again.
    #[arg(
        long,
        env = "CONFAB_REPLY_SAVE_RETRY",
        default_value_t = 30,
        global = true
    )]
    pub reply_save_retry: u64,

    /// Tokens of conversation history sent to the model with each message.
    #[arg(
        long,
        env = "CONFAB_CONTEXT_TOKENS",
        default_value_t = 8192,
        global = true
    )]
    pub context_tokens: i64,

    /// Whether email + password accounts may sign up and sign in (`false`: providers only).
    #[arg(long, env = "CONFAB_LOCAL_ACCOUNTS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub local_accounts: bool,

    /// The OpenID Connect providers offered for sign-in (from `--oidc-providers` or the file's
    /// `[[oidc_providers]]`), in order.
    #[arg(skip)]
    pub oidc_providers: Vec<ProviderConfig>,

    /// GitHub sign-in: the OAuth app's client id.
    #[arg(long, env = "CONFAB_GITHUB_CLIENT_ID", global = true)]
    pub github_client_id: Option<String>,

    /// GitHub sign-in: the OAuth app's client secret.
    #[arg(
        long,
        env = "CONFAB_GITHUB_CLIENT_SECRET",
        global = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub github_client_secret: Option<SecretString>,

    /// Only emails of these domains (comma-separated) may sign in through a provider.
    #[arg(long, env = "CONFAB_ALLOWED_EMAIL_DOMAINS", global = true)]
    pub allowed_email_domains: Option<String>,

    /// How long a deleted conversation can be restored (Undo), in seconds; it is purged for
    /// good after that (checked at start-up and then every hour). 0: never restorable.
    #[arg(
        long,
        env = "CONFAB_DELETED_RETENTION",
        default_value_t = 7 * 24 * 3600,
        global = true
    )]
    pub deleted_retention: u64,

    /// How often the purge of deleted conversations runs (hourly; tests shorten it).
    #[arg(skip = Duration::from_secs(3600))]
    pub purge_every: Duration,

    /// Sign-in providers given in code (tests, embedding), offered after the configured ones.
    #[arg(skip)]
    pub extra_sign_in_providers: Vec<ProviderConfig>,

    /// Where the compiled site (WASM, JS, CSS, public files) is served from.
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: PathBuf,

    /// Log filter, e.g. `info` or `confab=debug,tower_http=debug`.
    #[arg(long, env = "CONFAB_LOG", default_value = "info", global = true)]
    pub log: String,
}

impl Config {
    /// Whether sign-in cookies must only travel over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }

    /// The configured model providers, the default first.
    pub fn provider_settings(&self) -> Vec<ProviderSettings> {
        let default = ModelProvider {
            name: "default".into(),
            base_url: self.openai_base_url.clone(),
            api_key: self.openai_api_key.clone(),
        };
        std::iter::once(&default)
            .chain(&self.providers)
            .map(|provider| ProviderSettings {
                name: provider.name.clone(),
                base_url: provider.base_url.clone(),
                api_key: provider
                    .api_key
                    .clone()
                    .filter(|key| !key.expose_secret().is_empty()),
                default_model: self.default_model.clone(),
            })
            .collect()
    }

    /// The configured sign-in providers (OpenID Connect ones, then GitHub, then those given
    /// in code).
    pub fn sign_in_providers(&self) -> Vec<ProviderConfig> {
        let github = self
            .github_client_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .map(|client_id| ProviderConfig {
                name: "github".into(),
                display_name: "GitHub".into(),
                kind: ProviderKind::Github,
                client_id: client_id.to_owned(),
                client_secret: self.github_client_secret.clone(),
                scopes: vec!["read:user".into(), "user:email".into()],
            });
        self.oidc_providers
            .iter()
            .cloned()
            .chain(github)
            .chain(self.extra_sign_in_providers.iter().cloned())
            .collect()
    }

    /// The origin browsers see Confab at (`scheme://host[:port]`, lowercase, without a default
    /// port), when `public_url` names it: the only origin a cookie-authenticated write may come
    /// from.
    pub fn public_origin(&self) -> Option<String> {
        self.public_url
            .as_deref()
            .and_then(|url| origin_of(url).ok())
    }

    /// The reverse proxies in front of Confab, as `http::client::identify` needs them.
    pub fn proxies(&self) -> Proxies {
        Proxies {
            trusted: self.trusted_proxies.clone(),
            headers: self.proxy_headers,
        }
    }

    /// The address browsers use, for the providers' redirects.
    pub fn public_base(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
    }

    /// Settings for tests and tools: a store under `data_dir`, everything else default
    /// (neither the process environment nor a file is read).
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let sources = Sources {
            args: vec!["confab".into()],
            env: Box::new(|_| None),
            default_file: None,
        };
        let defaults = Cli::load(sources).expect("the defaults in code are valid");
        Config {
            data_dir: data_dir.into(),
            ..defaults.config
        }
    }
}

/// A model provider besides the default one.
#[derive(Clone, Debug)]
pub struct ModelProvider {
    /// Its models are addressed as `name/model`.
    pub name: String,
    /// Any OpenAI-compatible endpoint.
    pub base_url: String,
    pub api_key: Option<SecretString>,
}

/// The two lists the loader turns into `Config::providers` and `Config::oidc_providers`, as the
/// flags and variables write them; the rest of each provider is in variables named after it
/// or in the file's tables.
#[derive(Clone, Debug, Args)]
struct ProviderLists {
    /// More model providers, `name=base_url` separated by commas; each one's key is read from
    /// `CONFAB_PROVIDER_<NAME>_API_KEY`. Their models are addressed as `name/model`.
    #[arg(
        long,
        env = "CONFAB_PROVIDERS",
        value_name = "NAME=BASE_URL,...",
        global = true
    )]
    providers: Option<String>,

    /// OpenID Connect providers to offer for sign-in, by short name, separated by commas. Each
    /// reads `CONFAB_OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`, and optionally
    /// `_SCOPES` (default `openid email profile`) and `_DISPLAY_NAME`.
    #[arg(
        long,
        env = "CONFAB_OIDC_PROVIDERS",
        value_name = "NAME,...",
        global = true
    )]
    oidc_providers: Option<String>,
}

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
    /// then flags, each option from the first of those (in reverse) that sets it.
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
        let options: Vec<(String, Option<String>)> = documented
            .get_arguments()
            .filter(|arg| {
                arg.get_long().is_some()
                    && !["help", "version", "config"].contains(&arg.get_id().as_str())
            })
            .map(|arg| {
                let variable = arg
                    .get_env()
                    .map(|name| name.to_string_lossy().into_owned());
                (arg.get_id().to_string(), variable)
            })
            .collect();
        if let Some(file) = &file {
            file.check_keys(&options)?;
        }
        for (id, variable) in &options {
            if flags.value_source(id) == Some(ValueSource::CommandLine) {
                continue;
            }
            let from_env = variable
                .as_deref()
                .and_then(|name| env(name).map(|value| (value, name.to_owned())));
            let found = match from_env {
                Some(found) => Some(found),
                None => match &file {
                    Some(file) => file.value(id)?,
                    None => None,
                },
            };
            if let Some((value, origin)) = found {
                let arg = documented
                    .get_arguments()
                    .find(|arg| arg.get_id() == id)
                    .expect("the option was listed from this command");
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
                reason: error.to_string().trim_end().to_owned(),
            }),
        }
    }

    /// Refuses a key that is no option: a misspelt one would otherwise be ignored in silence.
    fn check_keys(&self, options: &[(String, Option<String>)]) -> Result<(), ConfigError> {
        match self
            .options
            .keys()
            .find(|key| !options.iter().any(|(id, _)| id == *key))
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
            .map(|entry| {
                entry
                    .split_once('=')
                    .map(|(name, url)| (name.trim().to_owned(), url.trim().to_owned()))
                    .ok_or_else(|| ConfigError::Invalid {
                        origin: "CONFAB_PROVIDERS".into(),
                        reason: format!("the entry {entry:?} is not name=base_url"),
                    })
            })
            .collect::<Result<_, _>>()?,
        None => in_file
            .iter()
            .map(|provider| (provider.name.clone(), provider.base_url.clone()))
            .collect(),
    };
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
                base_url,
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

/// Checks `CONFAB_PUBLIC_URL` at start-up: a URL whose origin can be compared with a browser's.
fn parse_public_url(url: &str) -> Result<String, String> {
    origin_of(url).map(|_| url.to_owned())
}

/// The origin of an `http://` or `https://` URL, as a browser writes it in `Origin`.
fn origin_of(url: &str) -> Result<String, String> {
    // A URL with a user name may hold a password: it is not printed.
    let shown = if url.contains('@') {
        "(with a user name or password, not shown)".to_owned()
    } else {
        format!("{url:?}")
    };
    let invalid =
        || format!("CONFAB_PUBLIC_URL {shown} is not an http:// or https:// URL with a host");
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return Err(invalid()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = axum::http::uri::Authority::from_str(authority).map_err(|_| invalid())?;
    if authority.host().is_empty() || authority.as_str().contains('@') {
        return Err(invalid());
    }
    let host = authority.as_str().to_ascii_lowercase();
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    Ok(format!("{scheme}://{host}"))
}

/// Reads a secret flag or variable (a database URL with its password, an API key): held as a
/// `SecretString`, whose `Debug` shows nothing, so printing the configuration shows no secret.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use confab_core::auth::oidc::ProviderConfig;
    use secrecy::ExposeSecret;

    use super::{origin_of, Cli, Config, ConfigError, Environment, Signup, Sources};

    /// A variable source holding only `variables`.
    fn environment(variables: &[(&str, &str)]) -> Environment {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Box::new(move |name| variables.get(name).cloned())
    }

    /// A directory holding `confab.toml` with `text`, the file Confab reads by default.
    struct Directory {
        dir: tempfile::TempDir,
    }

    impl Directory {
        fn with_file(text: &str) -> Directory {
            let dir = tempfile::tempdir().expect("a temporary directory");
            std::fs::write(dir.path().join("confab.toml"), text).expect("the file is written");
            Directory { dir }
        }

        fn file(&self) -> PathBuf {
            self.dir.path().join("confab.toml")
        }

        /// Loads with `args` after the program name, `variables`, and this file as the default.
        fn load(&self, args: &[&str], variables: &[(&str, &str)]) -> Result<Cli, ConfigError> {
            load_with(args, variables, Some(self.file()))
        }
    }

    fn load_with(
        args: &[&str],
        variables: &[(&str, &str)],
        default_file: Option<PathBuf>,
    ) -> Result<Cli, ConfigError> {
        Cli::load(Sources {
            args: std::iter::once("confab")
                .chain(args.iter().copied())
                .map(Into::into)
                .collect(),
            env: environment(variables),
            default_file,
        })
    }

    fn config(loaded: Result<Cli, ConfigError>) -> Config {
        match loaded {
            Ok(cli) => cli.config,
            Err(error) => panic!("the configuration does not load: {error}"),
        }
    }

    fn error(loaded: Result<Cli, ConfigError>) -> String {
        match loaded {
            Ok(cli) => panic!("the configuration loads: {cli:?}"),
            Err(error) => error.to_string(),
        }
    }

    /// The model providers as the service gets them, secrets shown, to compare two loads.
    fn model_providers(config: &Config) -> Vec<String> {
        config
            .provider_settings()
            .iter()
            .map(|provider| {
                format!(
                    "{} {} {:?} {}",
                    provider.name,
                    provider.base_url,
                    provider.api_key.as_ref().map(ExposeSecret::expose_secret),
                    provider.default_model
                )
            })
            .collect()
    }

    /// The sign-in providers as the service gets them, secrets shown, to compare two loads.
    fn sign_in_providers(config: &Config) -> Vec<String> {
        config
            .sign_in_providers()
            .iter()
            .map(|provider: &ProviderConfig| {
                format!(
                    "{} {:?} {:?} {} {:?} {:?}",
                    provider.name,
                    provider.display_name,
                    provider.kind,
                    provider.client_id,
                    provider
                        .client_secret
                        .as_ref()
                        .map(ExposeSecret::expose_secret),
                    provider.scopes
                )
            })
            .collect()
    }

    /// One key set at each level: the default, then the file, then the variable, then the flag
    /// wins, whichever of the others are there.
    #[test]
    fn each_source_wins_over_the_ones_before_it() {
        let without_file = Directory::with_file("");
        let with_file = Directory::with_file("max_body_bytes = 2000\n");
        let variable = [("CONFAB_MAX_BODY_BYTES", "3000")];
        let flag = ["--max-body-bytes", "4000"];
        let read = |directory: &Directory, args: &[&str], variables: &[(&str, &str)]| {
            config(directory.load(args, variables)).max_body_bytes
        };
        assert_eq!(read(&without_file, &[], &[]), 1024 * 1024);
        assert_eq!(read(&with_file, &[], &[]), 2000);
        assert_eq!(read(&with_file, &[], &variable), 3000);
        assert_eq!(read(&without_file, &[], &variable), 3000);
        assert_eq!(read(&with_file, &flag, &variable), 4000);
        assert_eq!(read(&with_file, &flag, &[]), 4000);
        assert_eq!(read(&without_file, &flag, &variable), 4000);
        assert_eq!(read(&without_file, &flag, &[]), 4000);
        // A flag after the command, a choice, a boolean and an optional value follow the same
        // order.
        let directory = Directory::with_file(
            "max_body_bytes = 2000\nsignup = \"closed\"\nlocal_accounts = false\n\
             public_url = \"https://file.example.com\"\n",
        );
        let config = config(directory.load(
            &[
                "import",
                "export.json",
                "--user",
                "a@example.com",
                "--max-body-bytes",
                "4000",
            ],
            &[
                ("CONFAB_MAX_BODY_BYTES", "3000"),
                ("CONFAB_LOCAL_ACCOUNTS", "true"),
                ("CONFAB_PUBLIC_URL", "https://env.example.com"),
            ],
        ));
        assert_eq!(config.max_body_bytes, 4000);
        assert_eq!(config.signup, Signup::Closed);
        assert!(config.local_accounts);
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://env.example.com")
        );
    }

    /// `--config` names the file, else `CONFAB_CONFIG`, else `confab.toml` is read if it exists.
    #[test]
    fn the_file_read_is_the_one_named_first() {
        let flag = Directory::with_file("max_body_bytes = 1\n");
        let variable = Directory::with_file("max_body_bytes = 2\n");
        let default = Directory::with_file("max_body_bytes = 3\n");
        let flag_path = flag.file().display().to_string();
        let variable_path = variable.file().display().to_string();
        let named = [("CONFAB_CONFIG", variable_path.as_str())];
        let read = |args: &[&str], variables: &[(&str, &str)], default_file: Option<PathBuf>| {
            let config = config(load_with(args, variables, default_file));
            (config.max_body_bytes, config.config_file)
        };
        assert_eq!(
            read(&["--config", &flag_path], &named, Some(default.file())),
            (1, Some(flag.file()))
        );
        assert_eq!(
            read(&[], &named, Some(default.file())),
            (2, Some(variable.file()))
        );
        assert_eq!(
            read(&[], &[], Some(default.file())),
            (3, Some(default.file()))
        );
        let missing = default.dir.path().join("missing.toml");
        assert_eq!(read(&[], &[], Some(missing.clone())), (1024 * 1024, None));
        // A file named but missing stops Confab.
        let missing_path = missing.display().to_string();
        assert_eq!(
            error(load_with(&["--config", &missing_path], &[], None)),
            format!(
                "cannot read the configuration file {missing_path}: No such file or directory \
                 (os error 2)"
            )
        );
    }

    /// A misspelt key would otherwise be ignored in silence; a wrong value names its key and
    /// file, or its variable.
    #[test]
    fn a_wrong_key_or_value_is_refused_with_its_name() {
        let cases = [
            ("max_body_byte = 1\n", "unknown key `max_body_byte`"),
            ("help = true\n", "unknown key `help`"),
            (
                "max_body_bytes = \"lots\"\n",
                "`max_body_bytes`: invalid digit found in string",
            ),
            ("addr = 3000\n", "`addr`: invalid socket address syntax"),
            (
                "signup = \"maybe\"\n",
                "`signup`: invalid value 'maybe' for '--signup <SIGNUP>': one of open, closed",
            ),
            (
                "trusted_proxies = [\"10.0.0.1\"]\n",
                "`trusted_proxies` must be a string, a number or a boolean",
            ),
        ];
        for (text, expected) in cases {
            let directory = Directory::with_file(text);
            assert_eq!(
                error(directory.load(&[], &[])),
                format!("{}: {expected}", directory.file().display())
            );
        }
        let directory = Directory::with_file("[[providers]]\nname = \"a\"\nbase = \"b\"\n");
        let message = error(directory.load(&[], &[]));
        assert!(
            message.starts_with(&format!(
                "{}: TOML parse error at line 3",
                directory.file().display()
            )),
            "{message}"
        );
        assert!(
            message
                .ends_with("unknown field `base`, expected one of `name`, `base_url`, `api_key`"),
            "{message}"
        );
        assert_eq!(
            error(load_with(&[], &[("CONFAB_MAX_BODY_BYTES", "lots")], None)),
            "CONFAB_MAX_BODY_BYTES: invalid digit found in string"
        );
        assert_eq!(
            error(load_with(
                &[],
                &[("CONFAB_OIDC_PROVIDERS", "keycloak")],
                None
            )),
            "sign-in provider \"keycloak\": no issuer: set CONFAB_OIDC_KEYCLOAK_ISSUER or \
             `issuer` in its [[oidc_providers]] table"
        );
    }

    /// Providers written in the file are the ones the same settings give as variables.
    #[test]
    fn providers_from_the_file_equal_the_same_from_variables() {
        let directory = Directory::with_file(
            r#"
            openai_base_url = "https://api.openai.com/v1"
            openai_api_key = "sk-default"
            github_client_id = "github-app"
            github_client_secret = "github-secret"

            [[providers]]
            name = "groq"
            base_url = "https://api.groq.com/openai/v1"
            api_key = "gsk-file"

            [[providers]]
            name = "local-llm"
            base_url = "http://127.0.0.1:8080/v1"

            [[oidc_providers]]
            name = "keycloak"
            issuer = "https://id.example.com/realms/main"
            client_id = "confab"
            client_secret = "keycloak-secret"
            display_name = "Company login"

            [[oidc_providers]]
            name = "google"
            issuer = "https://accounts.google.com"
            client_id = "google-client"
            scopes = ["openid", "email"]
            "#,
        );
        let from_file = config(directory.load(&[], &[]));
        let from_variables = config(load_with(
            &[],
            &[
                ("CONFAB_OPENAI_BASE_URL", "https://api.openai.com/v1"),
                ("CONFAB_OPENAI_API_KEY", "sk-default"),
                ("CONFAB_GITHUB_CLIENT_ID", "github-app"),
                ("CONFAB_GITHUB_CLIENT_SECRET", "github-secret"),
                (
                    "CONFAB_PROVIDERS",
                    "groq=https://api.groq.com/openai/v1,local-llm=http://127.0.0.1:8080/v1",
                ),
                ("CONFAB_PROVIDER_GROQ_API_KEY", "gsk-file"),
                ("CONFAB_OIDC_PROVIDERS", "keycloak,google"),
                (
                    "CONFAB_OIDC_KEYCLOAK_ISSUER",
                    "https://id.example.com/realms/main",
                ),
                ("CONFAB_OIDC_KEYCLOAK_CLIENT_ID", "confab"),
                ("CONFAB_OIDC_KEYCLOAK_CLIENT_SECRET", "keycloak-secret"),
                ("CONFAB_OIDC_KEYCLOAK_DISPLAY_NAME", "Company login"),
                ("CONFAB_OIDC_GOOGLE_ISSUER", "https://accounts.google.com"),
                ("CONFAB_OIDC_GOOGLE_CLIENT_ID", "google-client"),
                ("CONFAB_OIDC_GOOGLE_SCOPES", "openid email"),
            ],
            None,
        ));
        assert_eq!(
            model_providers(&from_file),
            [
                "default https://api.openai.com/v1 Some(\"sk-default\") llama3.2",
                "groq https://api.groq.com/openai/v1 Some(\"gsk-file\") llama3.2",
                "local-llm http://127.0.0.1:8080/v1 None llama3.2",
            ]
        );
        assert_eq!(
            model_providers(&from_variables),
            model_providers(&from_file)
        );
        assert_eq!(
            sign_in_providers(&from_file),
            [
                "keycloak \"Company login\" Oidc { issuer: \"https://id.example.com/realms/main\" } \
                 confab Some(\"keycloak-secret\") [\"openid\", \"email\", \"profile\"]",
                "google \"google\" Oidc { issuer: \"https://accounts.google.com\" } google-client \
                 None [\"openid\", \"email\"]",
                "github \"GitHub\" Github github-app Some(\"github-secret\") [\"read:user\", \
                 \"user:email\"]",
            ]
        );
        assert_eq!(
            sign_in_providers(&from_variables),
            sign_in_providers(&from_file)
        );

        // A variable wins over the same field of the file; a list given as a variable replaces
        // the file's, whose tables still fill in what no variable sets.
        let mixed = config(directory.load(
            &[],
            &[
                ("CONFAB_PROVIDERS", "groq=https://groq.example.com/v1"),
                ("CONFAB_OIDC_PROVIDERS", "keycloak"),
                ("CONFAB_OIDC_KEYCLOAK_CLIENT_SECRET", "rotated"),
            ],
        ));
        assert_eq!(
            model_providers(&mixed)[1..],
            ["groq https://groq.example.com/v1 Some(\"gsk-file\") llama3.2"]
        );
        assert_eq!(
            sign_in_providers(&mixed)[0],
            "keycloak \"Company login\" Oidc { issuer: \"https://id.example.com/realms/main\" } \
             confab Some(\"rotated\") [\"openid\", \"email\", \"profile\"]"
        );
    }

    /// Printing the configuration (a debug log, a panic message) shows none of its secrets,
    /// wherever they were read, and they are still there for what needs them.
    #[test]
    fn the_configurations_debug_shows_no_secret() {
        let directory = Directory::with_file(
            r#"
            github_client_id = "github-app"
            github_client_secret = "file-github-secret"
            [[providers]]
            name = "groq"
            base_url = "https://api.groq.com/openai/v1"
            api_key = "file-gsk-secret"
            [[oidc_providers]]
            name = "keycloak"
            issuer = "https://id.example.com/realms/main"
            client_id = "confab"
            client_secret = "file-keycloak-secret"
            "#,
        );
        let cli = directory
            .load(
                &[
                    "--database-url",
                    "mongodb://confab:hunter2@db.example.com/confab",
                ],
                &[("CONFAB_OPENAI_API_KEY", "sk-live-0123456789")],
            )
            .unwrap();
        let printed = format!("{cli:?}");
        let secrets = [
            "hunter2",
            "sk-live-0123456789",
            "file-github-secret",
            "file-gsk-secret",
            "file-keycloak-secret",
        ];
        for secret in secrets {
            assert!(!printed.contains(secret), "{printed}");
        }
        let config = &cli.config;
        let url = config
            .database_url
            .as_ref()
            .map(ExposeSecret::expose_secret);
        assert_eq!(url, Some("mongodb://confab:hunter2@db.example.com/confab"));
        let providers = config.provider_settings();
        let keys: Vec<_> = providers
            .iter()
            .map(|provider| provider.api_key.as_ref().map(ExposeSecret::expose_secret))
            .collect();
        assert_eq!(keys, [Some("sk-live-0123456789"), Some("file-gsk-secret")]);
        let sign_in = config.sign_in_providers();
        let secrets: Vec<_> = sign_in
            .iter()
            .map(|provider| {
                provider
                    .client_secret
                    .as_ref()
                    .map(ExposeSecret::expose_secret)
            })
            .collect();
        assert_eq!(
            secrets,
            [Some("file-keycloak-secret"), Some("file-github-secret")]
        );
        let printed = format!("{providers:?} {sign_in:?}");
        for secret in ["sk-live", "file-"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    fn example_file() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/confab.example.toml")
    }

    /// The example file names every option and loads; with its commented settings (`#key = `)
    /// turned on, it loads too, with each provider. So it cannot drift from the code.
    #[test]
    fn the_example_file_lists_every_option_and_loads() {
        let text = std::fs::read_to_string(example_file()).expect("docs/confab.example.toml");
        let command = <Cli as clap::CommandFactory>::command();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.get_long().is_none() || ["help", "version", "config"].contains(&id) {
                continue;
            }
            let written = text.lines().any(|line| {
                let line = line.strip_prefix('#').unwrap_or(line);
                line.starts_with(&format!("{id} = "))
                    || (["providers", "oidc_providers"].contains(&id)
                        && line == format!("[[{id}]]"))
            });
            assert!(written, "docs/confab.example.toml does not set {id}");
        }
        let as_is = config(load_with(&[], &[], Some(example_file())));
        let defaults = Config::for_data_dir("data");
        assert_eq!(
            format!("{as_is:?}"),
            format!(
                "{:?}",
                Config {
                    config_file: Some(example_file()),
                    ..defaults
                }
            )
        );

        let all_on: String = text
            .lines()
            .map(|line| match line.strip_prefix('#') {
                Some(setting)
                    if setting.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') =>
                {
                    setting
                }
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let directory = Directory::with_file(&all_on);
        let on = config(directory.load(&[], &[]));
        assert!(on.database_url.is_some());
        assert_eq!(
            model_providers(&on)
                .iter()
                .map(|provider| provider.split(' ').next().unwrap_or_default())
                .collect::<Vec<_>>(),
            ["default", "groq"]
        );
        assert_eq!(
            sign_in_providers(&on)
                .iter()
                .map(|provider| provider.split(' ').next().unwrap_or_default())
                .collect::<Vec<_>>(),
            ["keycloak", "github"]
        );
    }

    /// The README's table names every flag and variable.
    #[test]
    fn the_readme_lists_every_option() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
                .expect("README.md");
        let command = <Cli as clap::CommandFactory>::command();
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if ["help", "version"].contains(&long) {
                continue;
            }
            assert!(
                readme.contains(&format!("`--{long}`")),
                "README.md does not list --{long}"
            );
            let variable = arg
                .get_env()
                .map(|name| name.to_string_lossy().into_owned());
            let variable = variable.expect("every option has a variable");
            assert!(
                readme.contains(&format!("`{variable}`")),
                "README.md does not list {variable}"
            );
        }
        for pattern in [
            "CONFAB_PROVIDER_<NAME>_API_KEY",
            "CONFAB_OIDC_<NAME>_ISSUER",
            "CONFAB_OIDC_<NAME>_CLIENT_ID",
            "CONFAB_OIDC_<NAME>_CLIENT_SECRET",
            "CONFAB_OIDC_<NAME>_SCOPES",
            "CONFAB_OIDC_<NAME>_DISPLAY_NAME",
        ] {
            assert!(
                readme.contains(pattern),
                "README.md does not explain {pattern}"
            );
            assert!(
                super::MORE_HELP.contains(pattern),
                "--help does not explain {pattern}"
            );
        }
    }

    #[test]
    fn the_public_origin_is_written_as_browsers_write_origin() {
        assert_eq!(
            origin_of("https://Chat.Example.com:443/confab/"),
            Ok("https://chat.example.com".to_owned())
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080"),
            Ok("http://127.0.0.1:8080".to_owned())
        );
        assert_eq!(
            origin_of("https://user:secret@chat.example.com"),
            Err(
                "CONFAB_PUBLIC_URL (with a user name or password, not shown) is not an http:// \
                 or https:// URL with a host"
                    .to_owned()
            )
        );
        for invalid in ["chat.example.com", "ftp://chat.example.com", "https://"] {
            assert_eq!(
                origin_of(invalid),
                Err(format!(
                    "CONFAB_PUBLIC_URL {invalid:?} is not an http:// or https:// URL with a host"
                ))
            );
        }
    }
}
