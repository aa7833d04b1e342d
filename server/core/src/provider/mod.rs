//! Model providers: any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, OpenAI, …) through
//! async-openai. Several named providers may be configured; one is the default.

mod error;
mod stream;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::{ModelChoice, ModelChoices};
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::Client;
use secrecy::{ExposeSecret, SecretString};

pub use error::{failure_of_status, redacted_url, Failure, ProviderError};
pub use stream::{ChatTurn, ReplyEvent, ReplyStream};

/// How long the list of models is reused before asking the providers again.
const MODELS_TTL: Duration = Duration::from_secs(30);
/// Longest wait for a provider to start answering.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A provider's settings. The API key is never logged, nor the URL's user, password or query.
#[derive(Clone)]
pub struct ProviderSettings {
    pub name: String,
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub default_model: String,
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ProviderSettings")
            .field("name", &self.name)
            .field("base_url", &redacted_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<secret>"))
            .field("default_model", &self.default_model)
            .finish()
    }
}

pub struct Provider {
    pub settings: ProviderSettings,
    /// Lists models.
    client: Client<OpenAIConfig>,
    /// Streams replies (see `stream`).
    http: reqwest::Client,
}

/// What an error of async-openai (listing models) means.
fn classify(error: &OpenAIError) -> Failure {
    match error {
        OpenAIError::Reqwest(error)
            if error.is_connect() || error.is_timeout() || error.is_request() =>
        {
            Failure::Unreachable
        }
        OpenAIError::ApiError(response) => failure_of_status(response.status_code.as_u16()),
        OpenAIError::StreamError(_) => Failure::Interrupted,
        OpenAIError::Reqwest(_) | OpenAIError::JSONDeserialize(..) => Failure::BadAnswer,
        _ => Failure::Upstream { status: None },
    }
}

impl Provider {
    fn new(settings: ProviderSettings) -> Provider {
        let mut config = OpenAIConfig::new().with_api_base(settings.base_url.trim_end_matches('/'));
        if let Some(key) = &settings.api_key {
            config = config.with_api_key(key.expose_secret());
        }
        // A client that cannot be built (no TLS backend) is a broken installation; the default
        // client then fails each request with a clear error.
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .unwrap_or_default();
        Provider {
            client: Client::with_config(config),
            http,
            settings,
        }
    }

    pub fn client(&self) -> &Client<OpenAIConfig> {
        &self.client
    }

    /// A failure of this provider; `detail` goes to the log only.
    pub fn failed(&self, failure: Failure, detail: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(
            &self.settings.name,
            &self.settings.base_url,
            failure,
            detail,
        )
    }
}

pub struct Providers {
    providers: Vec<Provider>,
    models: Mutex<Option<(Instant, ModelChoices)>>,
}

impl Providers {
    /// The first provider is the default.
    pub fn new(settings: Vec<ProviderSettings>) -> Providers {
        Providers {
            providers: settings.into_iter().map(Provider::new).collect(),
            models: Mutex::new(None),
        }
    }

    pub fn default_provider(&self) -> Option<&Provider> {
        self.providers.first()
    }

    /// Finds the provider and model name for a requested model: `provider/model` picks a named
    /// provider, anything else goes to the default provider; no model means its default model.
    pub fn resolve(&self, requested: Option<&str>) -> Result<(usize, String), ProviderError> {
        let default = self
            .default_provider()
            .ok_or_else(|| ProviderError::unknown_provider("(none configured)"))?;
        let Some(requested) = requested.map(str::trim).filter(|model| !model.is_empty()) else {
            return Ok((0, default.settings.default_model.clone()));
        };
        if let Some((name, model)) = requested.split_once('/') {
            let named = self
                .providers
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, p)| p.settings.name == name);
            if let Some((index, _)) = named {
                return Ok((index, model.to_owned()));
            }
        }
        Ok((0, requested.to_owned()))
    }

    /// The provider `resolve` chose.
    pub fn provider(&self, index: usize) -> Option<&Provider> {
        self.providers.get(index)
    }

    /// The models every provider lists, cached briefly.
    pub async fn models(&self) -> ModelChoices {
        if let Ok(cache) = self.models.lock() {
            if let Some((at, list)) = cache.as_ref() {
                if at.elapsed() < MODELS_TTL {
                    return list.clone();
                }
            }
        }
        let mut list = ModelChoices {
            models: Vec::new(),
            errors: Vec::new(),
        };
        for (index, provider) in self.providers.iter().enumerate() {
            let listed =
                tokio::time::timeout(CONNECT_TIMEOUT, provider.client.models().list()).await;
            match listed {
                Ok(Ok(response)) => {
                    for model in response.data {
                        let id = if index == 0 {
                            model.id.clone()
                        } else {
                            format!("{}/{}", provider.settings.name, model.id)
                        };
                        list.models.push(ModelChoice {
                            default: index == 0 && model.id == provider.settings.default_model,
                            id,
                            provider: provider.settings.name.clone(),
                        });
                    }
                }
                Ok(Err(error)) => {
                    let failure = classify(&error);
                    let detail = match error {
                        // async-openai's reqwest, whose text quotes the URL whole.
                        OpenAIError::Reqwest(error) => error::causes(&error.without_url()),
                        other => other.to_string(),
                    };
                    let failed = provider.failed(failure, detail);
                    tracing::warn!(detail = failed.for_log(), "{failed}");
                    list.errors.push(failed.to_string());
                }
                Err(_) => {
                    let seconds = CONNECT_TIMEOUT.as_secs();
                    let failed = provider.failed(
                        Failure::TimedOut { seconds },
                        format!("no list of models within {seconds} seconds"),
                    );
                    tracing::warn!(detail = failed.for_log(), "{failed}");
                    list.errors.push(failed.to_string());
                }
            }
        }
        // Only a complete answer is cached: a provider that was down is asked again next time.
        if list.errors.is_empty() {
            if let Ok(mut cache) = self.models.lock() {
                *cache = Some((Instant::now(), list.clone()));
            }
        }
        list
    }
}
