//! Every option Confab reads, in one place: each is declared here once, with its help and its
//! default; it can be set in the configuration file (`confab.toml`), by a `CONFAB_*`
//! environment variable, or by the flag of the same name, and the last of those wins
//! (`load.rs` reads them).

mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use confab_core::auth::oidc::{ProviderConfig, ProviderKind};
use confab_core::provider::ProviderSettings;
use secrecy::{ExposeSecret, SecretString};

use crate::http::client::{Proxies, ProxyHeaders, TrustedProxies};

pub use load::{ConfigError, Environment, Sources};

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
    /// if it exists.
    // Once loaded: the file that was read, if any.
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
    pub openai_base_url: ProviderUrl,

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
            name: DEFAULT_PROVIDER.into(),
            base_url: self.openai_base_url.clone(),
            api_key: self.openai_api_key.clone(),
        };
        std::iter::once(&default)
            .chain(&self.providers)
            .map(|provider| ProviderSettings {
                name: provider.name.clone(),
                base_url: provider.base_url.as_str().to_owned(),
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

/// The name of the provider `--openai-base-url` configures; its models need no prefix.
pub const DEFAULT_PROVIDER: &str = "default";

/// A model provider's base URL, as configured. It may carry a key (`https://user:key@…`,
/// `?api-key=…`), so its `Debug` form is `redacted_url`'s: the user, password and query
/// hidden.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderUrl(String);

impl ProviderUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProviderUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(ProviderUrl(url.to_owned()))
    }
}

impl From<String> for ProviderUrl {
    fn from(url: String) -> Self {
        ProviderUrl(url)
    }
}

impl std::fmt::Debug for ProviderUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", confab_core::provider::redacted_url(&self.0))
    }
}

/// A model provider besides the default one.
#[derive(Clone, Debug)]
pub struct ModelProvider {
    /// Its models are addressed as `name/model`.
    pub name: String,
    /// Any OpenAI-compatible endpoint.
    pub base_url: ProviderUrl,
    pub api_key: Option<SecretString>,
}

/// The two lists the loader turns into `Config::providers` and `Config::oidc_providers`, as the
/// flags and variables write them; the rest of each provider is in variables named after it
/// or in the file's tables.
#[derive(Clone, Args)]
struct ProviderLists {
    /// More model providers, `name=base_url` separated by commas; each one's key is read from
    /// `CONFAB_PROVIDER_<NAME>_API_KEY`. Their models are addressed as `name/model`.
    #[arg(
        long,
        env = "CONFAB_PROVIDERS",
        value_name = "NAME=BASE_URL,...",
        global = true,
        hide_env_values = true
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

/// The lists' URLs may carry keys: only whether each list is set is shown (the providers
/// themselves are printed from `Config`, their URLs redacted).
impl std::fmt::Debug for ProviderLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderLists")
            .field("providers", &self.providers.as_ref().map(|_| "…"))
            .field("oidc_providers", &self.oidc_providers)
            .finish()
    }
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
mod tests;
