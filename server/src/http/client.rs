//! The one place a request's client is worked out (`identify`). Behind a reverse proxy the
//! socket peer is the proxy: the client's address, scheme and host are then read from
//! `X-Forwarded-For` / `-Proto` / `-Host` or from `Forwarded` (RFC 7239), but only when the
//! peer is one of `CONFAB_TRUSTED_PROXIES`; from anyone else those headers are a client's claim
//! and ignored. Only the family the proxies write is read (`CONFAB_PROXY_HEADERS`): nginx
//! appends to `X-Forwarded-For` but passes a client's own `Forwarded` on untouched, so reading
//! whichever is present would let a client choose its address. The sign-in and sign-up
//! limiters, the CSRF check and server functions read the resulting [`Client`] from the request's extensions.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use clap::ValueEnum;
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

/// Which forwarding headers the trusted proxies write (and so which ones are read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ProxyHeaders {
    /// `X-Forwarded-For`, `-Proto` and `-Host`: nginx, Caddy, HAProxy, most load balancers.
    #[default]
    XForwarded,
    /// `Forwarded` (RFC 7239), with each hop's `for`, `proto` and `host`.
    Forwarded,
}

/// The reverse proxies in front of Confab: who they are and what they write.
#[derive(Clone, Debug, Default)]
pub struct Proxies {
    /// The peers whose forwarding headers are believed (`CONFAB_TRUSTED_PROXIES`).
    pub trusted: TrustedProxies,
    /// The header family they write (`CONFAB_PROXY_HEADERS`).
    pub headers: ProxyHeaders,
}

/// Works out the request's [`Client`] and stores it in the request's extensions.
pub async fn identify(
    State(proxies): State<Arc<Proxies>>,
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
    let client = resolve(peer, host, request.headers(), &proxies);
    request.extensions_mut().insert(client);
    next.run(request).await
}

/// The client of a request from `peer` that named `host`, believing forwarding headers only
/// when `peer` is trusted.
fn resolve(
    peer: Option<IpAddr>,
    host: Option<String>,
    headers: &HeaderMap,
    proxies: &Proxies,
) -> Client {
    let direct = Client {
        address: peer,
        scheme: None,
        host,
    };
    match peer {
        Some(peer) if proxies.trusted.contains(peer) => {
            forwarded::through_proxies(direct, headers, proxies)
        }
        _ => direct,
    }
}

#[cfg(test)]
mod tests;
