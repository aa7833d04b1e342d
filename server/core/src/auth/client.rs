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
    /// The scheme it used (`http` unless a trusted proxy says otherwise).
    pub scheme: String,
    /// The host (and port) it addressed, if it named one.
    pub host: Option<String>,
}

impl Client {
    /// The origin the client addressed, `scheme://host`, if it named a host.
    pub fn origin(&self) -> Option<String> {
        self.host
            .as_deref()
            .map(|host| format!("{}://{}", self.scheme, host).to_ascii_lowercase())
    }

    /// The key the login limiter counts this client's failures under ("unknown" without an
    /// address, so clients the server cannot tell apart share one budget rather than none).
    pub fn address_key(&self) -> String {
        self.address
            .map_or_else(|| "unknown".to_owned(), |address| address.to_string())
    }
}
