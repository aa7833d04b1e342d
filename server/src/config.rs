//! Every option Confab reads, in one place. Defaults live here; each can be set by a
//! `CONFAB_*` environment variable or the flag of the same name (flags win).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use confab_core::auth::oidc::{ProviderConfig, ProviderKind};
use confab_core::provider::ProviderSettings;
use secrecy::{ExposeSecret, SecretString};

use crate::http::client::{Proxies, ProxyHeaders, TrustedProxies};

#[derive(Debug, Parser)]
#[command(
    name = "confab",
    version,
    about = "Confab: a self-hosted AI chat that never loses a message"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

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

    /// More providers, `name=base_url` separated by commas; each one's key is read from
    /// `CONFAB_PROVIDER_<NAME>_API_KEY`. Their models are addressed as `name/model`.
    #[arg(long, env = "CONFAB_PROVIDERS", global = true)]
    pub providers: Option<String>,

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

    /// OpenID Connect providers to offer, by short name, separated by commas. Each reads
    /// `CONFAB_OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`, and optionally `_SCOPES`
    /// (default `openid email profile`) and `_DISPLAY_NAME`.
    #[arg(long, env = "CONFAB_OIDC_PROVIDERS", global = true)]
    pub oidc_providers: Option<String>,

    /// GitHub sign-in: the OAuth app's client id (its secret in `CONFAB_GITHUB_CLIENT_SECRET`).
    #[arg(long, env = "CONFAB_GITHUB_CLIENT_ID", global = true)]
    pub github_client_id: Option<String>,

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
    pub fn provider_settings(&self) -> Result<Vec<ProviderSettings>, String> {
        let mut settings = vec![ProviderSettings {
            name: "default".into(),
            base_url: self.openai_base_url.clone(),
            api_key: self
                .openai_api_key
                .clone()
                .filter(|key| !key.expose_secret().is_empty()),
            default_model: self.default_model.clone(),
        }];
        for entry in self
            .providers
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let (name, url) = entry
                .split_once('=')
                .ok_or_else(|| format!("CONFAB_PROVIDERS entry {entry:?} is not name=base_url"))?;
            let name = name.trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "provider name {name:?} must be letters, digits, - or _"
                ));
            }
            let key_variable = format!(
                "CONFAB_PROVIDER_{}_API_KEY",
                name.to_ascii_uppercase().replace('-', "_")
            );
            settings.push(ProviderSettings {
                name: name.to_owned(),
                base_url: url.trim().to_owned(),
                api_key: std::env::var(key_variable)
                    .ok()
                    .filter(|key| !key.is_empty())
                    .map(SecretString::from),
                default_model: self.default_model.clone(),
            });
        }
        Ok(settings)
    }

    /// The configured sign-in providers (OpenID Connect ones, then GitHub).
    pub fn sign_in_providers(&self) -> Result<Vec<ProviderConfig>, String> {
        let variable = |name: &str, field: &str| {
            std::env::var(format!(
                "CONFAB_OIDC_{}_{field}",
                name.to_ascii_uppercase().replace('-', "_")
            ))
            .ok()
            .filter(|value| !value.trim().is_empty())
        };
        let mut providers = Vec::new();
        for name in self
            .oidc_providers
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "sign-in provider name {name:?} must be letters, digits, - or _"
                ));
            }
            let required = |field: &str| {
                variable(name, field).ok_or_else(|| {
                    format!(
                        "CONFAB_OIDC_{}_{field} is not set",
                        name.to_ascii_uppercase()
                    )
                })
            };
            providers.push(ProviderConfig {
                name: name.to_owned(),
                display_name: variable(name, "DISPLAY_NAME").unwrap_or_else(|| name.to_owned()),
                kind: ProviderKind::Oidc {
                    issuer: required("ISSUER")?,
                },
                client_id: required("CLIENT_ID")?,
                client_secret: variable(name, "CLIENT_SECRET").map(SecretString::from),
                scopes: variable(name, "SCOPES")
                    .unwrap_or_else(|| "openid email profile".into())
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
            });
        }
        if let Some(client_id) = self.github_client_id.as_deref().filter(|id| !id.is_empty()) {
            providers.push(ProviderConfig {
                name: "github".into(),
                display_name: "GitHub".into(),
                kind: ProviderKind::Github,
                client_id: client_id.to_owned(),
                client_secret: std::env::var("CONFAB_GITHUB_CLIENT_SECRET")
                    .ok()
                    .map(SecretString::from),
                scopes: vec!["read:user".into(), "user:email".into()],
            });
        }
        providers.extend(self.extra_sign_in_providers.iter().cloned());
        Ok(providers)
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

    /// Settings for tests and tools: a store under `data_dir`, everything else default.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let cli = Cli::parse_from(["confab"]);
        Config {
            data_dir: data_dir.into(),
            ..cli.config
        }
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
mod tests {
    use clap::Parser;
    use secrecy::ExposeSecret;

    use super::{origin_of, Cli};

    /// Printing the configuration (a debug log, a panic message) shows none of its secrets,
    /// which are still there for what needs them.
    #[test]
    fn the_configurations_debug_shows_no_secret() {
        let cli = Cli::try_parse_from([
            "confab",
            "--database-url",
            "mongodb://confab:hunter2@db.example.com/confab",
            "--openai-api-key",
            "sk-live-0123456789",
        ])
        .unwrap();
        let printed = format!("{cli:?}");
        for secret in ["hunter2", "sk-live-0123456789"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        let config = &cli.config;
        let url = config
            .database_url
            .as_ref()
            .map(ExposeSecret::expose_secret);
        assert_eq!(url, Some("mongodb://confab:hunter2@db.example.com/confab"));
        let providers = config.provider_settings().unwrap();
        let key = providers[0]
            .api_key
            .as_ref()
            .map(ExposeSecret::expose_secret);
        assert_eq!(key, Some("sk-live-0123456789"));
        assert!(!format!("{providers:?}").contains("sk-live"));
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
