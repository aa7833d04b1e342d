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
    assert_eq!(
        error(directory.load(&[], &[])),
        format!(
            "{}: TOML parse error at line 3, column 1: unknown field `base`, expected one of `name`, `base_url`, `api_key`",
            directory.file().display()
        )
    );
    assert_eq!(
        error(load_with(&[], &[("CONFAB_MAX_BODY_BYTES", "lots")], None)),
        "CONFAB_MAX_BODY_BYTES: invalid digit found in string"
    );
    assert_eq!(
        error(load_with(&["--providers", "groq"], &[], None)),
        "providers: entry 1 is not name=base_url"
    );
    // An entry that is only a URL is not repeated: it may hold a key.
    assert_eq!(
        error(load_with(
            &[
                "--providers",
                "a=http://a.example.com, https://user:sk-in-url@b.example.com/v1"
            ],
            &[],
            None
        )),
        "providers: entry 2 is not name=base_url"
    );
    // Names that are the same variable name would read each other's keys.
    assert_eq!(
        error(load_with(
            &[
                "--providers",
                "local-llm=http://a.example.com,LOCAL_LLM=http://b.example.com"
            ],
            &[],
            None
        )),
        "providers: the name \"LOCAL_LLM\" is given twice"
    );
    assert_eq!(
        error(load_with(&["--oidc-providers", "Google,google"], &[], None)),
        "oidc_providers: the name \"google\" is given twice"
    );
    assert_eq!(
        error(load_with(&["--providers", "default=http://a.example.com"], &[], None)),
        "providers: the name \"default\" is the provider of --openai-base-url; give this one another name"
    );
    assert_eq!(
        error(load_with(
            &[],
            &[("CONFAB_PROVIDERS", "my groq=https://api.groq.com/openai/v1")],
            None
        )),
        "providers: the name \"my groq\" must be letters, digits, - or _"
    );
    assert_eq!(
        error(load_with(&["--oidc-providers", "google,google"], &[], None)),
        "oidc_providers: the name \"google\" is given twice"
    );
    let directory = Directory::with_file(
        "[[providers]]\nname = \"groq\"\nbase_url = \"https://a.example.com\"\n\
         [[providers]]\nname = \"groq\"\nbase_url = \"https://b.example.com\"\n",
    );
    assert_eq!(
        error(directory.load(&[], &[])),
        "providers: the name \"groq\" is given twice"
    );
    let directory = Directory::with_file("[[oidc_providers]]\nname = \"id/main\"\n");
    assert_eq!(
        error(directory.load(&[], &[])),
        "oidc_providers: the name \"id/main\" must be letters, digits, - or _"
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

/// A file with every kind of provider, and a secret for each.
const PROVIDERS: &str = r#"
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
"#;

/// Providers written in the file are the ones the same settings give as variables.
#[test]
fn providers_from_the_file_equal_the_same_from_variables() {
    let directory = Directory::with_file(PROVIDERS);
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
    // The file's lists, with the secrets in variables: the file need not hold any.
    let secrets_apart = config(directory.load(
        &[],
        &[
            ("CONFAB_PROVIDER_LOCAL_LLM_API_KEY", "local-key"),
            ("CONFAB_OIDC_GOOGLE_CLIENT_SECRET", "google-secret"),
            ("CONFAB_OIDC_GOOGLE_DISPLAY_NAME", "Google"),
        ],
    ));
    assert_eq!(
        model_providers(&secrets_apart)[2],
        "local-llm http://127.0.0.1:8080/v1 Some(\"local-key\") llama3.2"
    );
    assert_eq!(
        sign_in_providers(&secrets_apart)[1],
        "google \"Google\" Oidc { issuer: \"https://accounts.google.com\" } google-client \
         Some(\"google-secret\") [\"openid\", \"email\"]"
    );
}

/// Printing the configuration (a debug log, a panic message) shows none of its secrets,
/// wherever they were read, and they are still there for what needs them.
#[test]
fn the_configurations_debug_shows_no_secret() {
    let directory = Directory::with_file(PROVIDERS);
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
        "github-secret",
        "gsk-file",
        "keycloak-secret",
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
    assert_eq!(keys, [Some("sk-live-0123456789"), Some("gsk-file"), None]);
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
        [Some("keycloak-secret"), None, Some("github-secret")]
    );
    let printed = format!("{providers:?} {sign_in:?}");
    for secret in ["sk-live", "gsk-file", "keycloak-secret", "github-secret"] {
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
                || (["providers", "oidc_providers"].contains(&id) && line == format!("[[{id}]]"))
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
            Some(setting) if setting.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => {
                setting
            }
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let directory = Directory::with_file(&all_on);
    let on = config(directory.load(&[], &[]));
    let url = on.database_url.as_ref().map(ExposeSecret::expose_secret);
    assert_eq!(
        url,
        Some("mongodb://confab:password@db.example.com:27017/confab")
    );
    assert_eq!(
        model_providers(&on),
        [
            "default http://127.0.0.1:11434/v1 Some(\"sk-...\") llama3.2",
            "groq https://api.groq.com/openai/v1 Some(\"gsk_...\") llama3.2",
        ]
    );
    assert_eq!(
        sign_in_providers(&on),
        [
            "keycloak \"Company login\" Oidc { issuer: \"https://id.example.com/realms/main\" } \
             confab Some(\"...\") [\"openid\", \"email\", \"profile\"]",
            "github \"GitHub\" Github Iv1.0123456789abcdef Some(\"...\") [\"read:user\", \
             \"user:email\"]",
        ]
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

/// A file Confab cannot parse is reported by line and column, never by its text: the line may
/// hold a secret, and the report goes to the service's log.
#[test]
fn a_file_that_does_not_parse_is_reported_without_its_lines() {
    let cases = [
        (
            "openai_api_key = sk-live-0123456789\n",
            "line 1, column 18: string values must be quoted, expected literal string",
        ),
        (
            "[[providers]]\nname = \"groq\"\napikey = \"gsk-0123456789\"\n",
            "line 3, column 1: unknown field `apikey`, expected one of `name`, `base_url`, `api_key`",
        ),
        (
            "database_url = \"mongodb://confab:hunter\\2@db.example.com/confab\"\n",
            "line 1, column 41: missing escaped value, expected `b`, `e`, `f`, `n`, `r`, `\\`, `\"`, `x`, `u`, `U`",
        ),
    ];
    for (text, expected) in cases {
        let directory = Directory::with_file(text);
        let message = error(directory.load(&[], &[]));
        assert_eq!(
            message,
            format!(
                "{}: TOML parse error at {expected}",
                directory.file().display()
            )
        );
        for secret in ["sk-live", "gsk-", "hunter"] {
            assert!(!message.contains(secret), "{message}");
        }
    }
}

/// Provider URLs may carry keys (`https://user:key@…`, `?api-key=…`): `--help` does not show
/// their variables' values, and the configuration's Debug form hides the user, password and
/// query.
#[test]
fn provider_urls_are_not_printed_with_their_keys() {
    let command = <Cli as clap::CommandFactory>::command();
    for name in [
        "openai_base_url",
        "openai_api_key",
        "providers",
        "database_url",
    ] {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_id() == name)
            .unwrap_or_else(|| panic!("no option {name}"));
        assert!(arg.is_hide_env_values_set(), "--help shows {name}'s value");
    }
    let cli = load_with(
        &[
            "--openai-base-url",
            "https://me:url-password@llm.example.com/v1?api-key=query-key",
            "--providers",
            "groq=https://groq:groq-password@api.groq.com/openai/v1",
        ],
        &[],
        None,
    )
    .unwrap();
    let printed = format!("{cli:?}");
    for secret in ["url-password", "query-key", "groq-password"] {
        assert!(!printed.contains(secret), "{printed}");
    }
    assert!(
        printed.contains("https://llm.example.com/v1 (user, password and query hidden)"),
        "{printed}"
    );
    assert_eq!(
        model_providers(&cli.config)[1],
        "groq https://groq:groq-password@api.groq.com/openai/v1 None llama3.2"
    );
}
