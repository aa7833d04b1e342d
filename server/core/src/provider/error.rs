//! What went wrong with a model provider, told two ways.
//!
//! Users read the `Display` text: `/api/models`, the chat stream's `error` events and the `/v1`
//! endpoint's errors pass it to every signed-in user. It names the provider by its configured
//! name and says what failed in Confab's own words, never the provider's URL or what reqwest or
//! the provider said: a configured URL may carry a password or a key
//! (`https://user:key@llm.internal/v1`, `…/v1?api-key=…`), reqwest's errors quote the URL, and
//! an error body may quote anything. Those go to the log only (`ProviderError::for_log`), the
//! URL without its user, password and query (`redacted_url`). `Debug` shows what `Display`
//! shows.

use std::fmt;

/// A failure, by kind: each has its own sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No connection (refused, no such host, TLS failed).
    Unreachable,
    /// Nothing arrived for this long: no answer, or a stream that stopped sending.
    TimedOut { seconds: u64 },
    /// HTTP 401 or 403: the API key is wrong, missing or not allowed.
    KeyRefused,
    /// HTTP 429.
    RateLimited,
    /// Another error status, or an error object in the stream (no status).
    Upstream { status: Option<u16> },
    /// An answer Confab cannot read (not JSON, not the protocol).
    BadAnswer,
    /// The reply stream ended or broke before the reply finished.
    Interrupted,
}

/// A model provider failed; see the module documentation for who reads what.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// The configured name, or (for `UnknownProvider`) the model that named no provider.
    provider: String,
    failure: Option<Failure>,
    /// For the log only.
    detail: String,
}

impl ProviderError {
    /// A failure of the provider configured as `provider` at `url`; `detail` (what reqwest or
    /// the provider said) is kept for the log.
    pub fn new(provider: &str, url: &str, failure: Failure, detail: impl fmt::Display) -> Self {
        ProviderError {
            provider: provider.to_owned(),
            failure: Some(failure),
            detail: format!("{}: {detail}", redacted_url(url)),
        }
    }

    /// No provider is configured for `model`.
    pub fn unknown_provider(model: &str) -> Self {
        ProviderError {
            provider: model.to_owned(),
            failure: None,
            detail: String::new(),
        }
    }

    /// What failed; `None` when no provider was found.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// The provider's configured name (for `unknown_provider`, the model asked for).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The URL (without its secrets) and the raw detail, for the log and nothing else.
    pub fn for_log(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.provider;
        let Some(failure) = self.failure else {
            return write!(formatter, "unknown provider {name:?}");
        };
        let what = match failure {
            Failure::Unreachable => "could not be reached".to_owned(),
            Failure::TimedOut { seconds } => format!("sent nothing for {seconds} seconds"),
            Failure::KeyRefused => "refused Confab's API key".to_owned(),
            Failure::RateLimited => "is limiting requests; try again later".to_owned(),
            Failure::Upstream {
                status: Some(status),
            } => format!("answered with an error (HTTP {status})"),
            Failure::Upstream { status: None } => "answered with an error".to_owned(),
            Failure::BadAnswer => "sent an answer Confab cannot read".to_owned(),
            Failure::Interrupted => "broke off its reply stream".to_owned(),
        };
        write!(formatter, "the model provider \"{name}\" {what}")
    }
}

/// What users see, as `Display`: the detail would leak into any `{:?}` that reaches a client.
impl fmt::Debug for ProviderError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ProviderError")
            .field("provider", &self.provider)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for ProviderError {}

/// The failure an HTTP error status means.
pub fn failure_of_status(status: u16) -> Failure {
    match status {
        401 | 403 => Failure::KeyRefused,
        429 => Failure::RateLimited,
        _ => Failure::Upstream {
            status: Some(status),
        },
    }
}

/// What reqwest says about a failure, with its causes, for the log: without the URL, which
/// reqwest's own text quotes whole.
pub(crate) fn reqwest_detail(error: reqwest::Error) -> String {
    causes(&error.without_url())
}

/// An error's text followed by its sources' (`a: b: c`).
pub(crate) fn causes(error: &dyn std::error::Error) -> String {
    let mut detail = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    detail
}

/// `url` without its user name, password and query, for the log: `https://llm.internal:8443/v1`
/// for `https://user:key@llm.internal:8443/v1?api-key=…`. A URL that does not parse is not
/// shown at all.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a provider URL that does not parse)".into();
    };
    let hidden = !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some();
    // Only URLs that cannot be a base (`mailto:`) refuse these, and they carry no user anyway.
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_query(None);
    parsed.set_fragment(None);
    let mut shown = parsed.to_string();
    if hidden {
        shown.push_str(" (user, password and query hidden)");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_read_the_name_and_the_kind_and_the_log_reads_no_secret() {
        let url = "https://user:s3cret-pass@llm.internal:8443/v1?api-key=q-s3cret#frag";
        let error = ProviderError::new(
            "default",
            url,
            Failure::Unreachable,
            format!("error sending request for url ({url}/models)"),
        );
        assert_eq!(
            error.to_string(),
            "the model provider \"default\" could not be reached"
        );
        assert_eq!(
            format!("{error:?}"),
            "ProviderError { provider: \"default\", failure: Some(Unreachable), .. }"
        );
        assert!(error
            .for_log()
            .starts_with("https://llm.internal:8443/v1 (user, password and query hidden): "));
        assert_eq!(
            redacted_url("http://127.0.0.1:11434/v1"),
            "http://127.0.0.1:11434/v1"
        );
        assert_eq!(
            redacted_url("not a url with s3cret"),
            "(a provider URL that does not parse)"
        );
    }

    #[test]
    fn each_kind_has_its_sentence() {
        let sentence =
            |failure| ProviderError::new("local", "http://x/v1", failure, "").to_string();
        assert_eq!(
            sentence(Failure::TimedOut { seconds: 30 }),
            "the model provider \"local\" sent nothing for 30 seconds"
        );
        assert_eq!(
            sentence(failure_of_status(401)),
            "the model provider \"local\" refused Confab's API key"
        );
        assert_eq!(
            sentence(failure_of_status(403)),
            sentence(Failure::KeyRefused)
        );
        assert_eq!(
            sentence(failure_of_status(429)),
            "the model provider \"local\" is limiting requests; try again later"
        );
        assert_eq!(
            sentence(failure_of_status(502)),
            "the model provider \"local\" answered with an error (HTTP 502)"
        );
        assert_eq!(
            sentence(Failure::Upstream { status: None }),
            "the model provider \"local\" answered with an error"
        );
        assert_eq!(
            sentence(Failure::BadAnswer),
            "the model provider \"local\" sent an answer Confab cannot read"
        );
        assert_eq!(
            sentence(Failure::Interrupted),
            "the model provider \"local\" broke off its reply stream"
        );
        assert_eq!(
            ProviderError::unknown_provider("(none configured)").to_string(),
            "unknown provider \"(none configured)\""
        );
    }
}
