//! Who sent a request, as the HTTP layer resolved it once per request. Behind a reverse proxy
//! the socket peer is the proxy, so the address, scheme and host come from the forwarding
//! headers of proxies the operator trusts (see `confab::http::client`); everything that counts
//! or compares clients reads this instead of the connection.

use std::net::IpAddr;

/// The client of one request: where it comes from and which origin it addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// Its address; `None` when the server runs without connection information.
    pub address: Option<IpAddr>,
    /// The scheme it used, when a trusted proxy said so. Confab itself cannot know: a proxy
    /// terminating TLS may be in front without Confab being told.
    pub scheme: Option<String>,
    /// The host (and port) it addressed, if it named one.
    pub host: Option<String>,
}

impl Client {
    /// Whether `origin` (a browser's `Origin` header) is the origin this client addressed:
    /// the same host and port, and the same scheme when the scheme is known.
    pub fn addressed(&self, origin: &str) -> bool {
        let Some((scheme, host)) = origin.split_once("://") else {
            return false;
        };
        let same_host = self
            .host
            .as_deref()
            .is_some_and(|addressed| addressed.eq_ignore_ascii_case(host));
        let same_scheme = self
            .scheme
            .as_deref()
            .is_none_or(|addressed| addressed.eq_ignore_ascii_case(scheme));
        same_host && same_scheme
    }

    /// The key the sign-in and sign-up limiters count this client's attempts under ("unknown"
    /// without an address, so clients the server cannot tell apart share one budget rather
    /// than none).
    pub fn address_key(&self) -> String {
        self.address
            .map_or_else(|| "unknown".to_owned(), |address| address.to_string())
    }
}
