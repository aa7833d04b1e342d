//! The one place a request's client is worked out (`identify`). Behind a reverse proxy the
//! socket peer is the proxy: the client's address, scheme and host are then read from
//! `Forwarded` (RFC 7239) or `X-Forwarded-For` / `-Proto` / `-Host`, but only when the peer is
//! one of `CONFAB_TRUSTED_PROXIES`; from anyone else those headers are a client's claim and
//! ignored. The login limiter, the CSRF check and server functions read the resulting
//! [`Client`] from the request's extensions.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use confab_core::auth::client::Client;
use ipnet::IpNet;

mod forwarded;

/// The proxies whose forwarding headers are believed: addresses and CIDR ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses (`10.0.0.5`, `::1`) and CIDR ranges
    /// (`10.0.0.0/8`); an empty list trusts no one.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "CONFAB_TRUSTED_PROXIES entry {entry:?} is not an IP address or CIDR range"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether `address` is one of the trusted proxies. An IPv4 address seen as IPv4-mapped
    /// IPv6 (a dual-stack listener) is the same address.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }
}

/// Works out the request's [`Client`] and stores it in the request's extensions.
pub async fn identify(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
        .map(str::to_owned);
    let client = resolve(peer, host, request.headers(), &trusted);
    request.extensions_mut().insert(client);
    next.run(request).await
}

/// The client of a request from `peer` that named `host`, believing forwarding headers only
/// when `peer` is trusted.
fn resolve(
    peer: Option<IpAddr>,
    host: Option<String>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Client {
    let direct = Client {
        address: peer,
        scheme: "http".to_owned(),
        host,
    };
    match peer {
        Some(peer) if trusted.contains(peer) => {
            forwarded::through_proxies(direct, headers, trusted)
        }
        _ => direct,
    }
}

#[cfg(test)]
mod tests;
