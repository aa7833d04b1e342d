//! Reading the forwarding headers of a request that came through a trusted proxy.
//!
//! Each proxy appends the address it received the request from, so the list reads client
//! first, nearest proxy last; only the entries our trusted proxies appended can be believed.
//! The client is therefore the rightmost entry that is not itself a trusted proxy: whatever a
//! client wrote further left is its own claim. Only the header family the proxies write is
//! read: the other one, if present, came from the client untouched.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::uri::Authority;
use axum::http::{header, HeaderMap};
use confab_core::auth::client::Client;

use super::{Proxies, ProxyHeaders, TrustedProxies};

/// One hop of the chain: the address a proxy received the request from and, from
/// `Forwarded`, the scheme and host that request used.
#[derive(Debug, Default, PartialEq, Eq)]
struct Hop {
    /// `None` for `unknown`, obfuscated (`_hidden`) or unreadable nodes.
    address: Option<IpAddr>,
    proto: Option<String>,
    host: Option<String>,
}

/// The client of a request whose socket peer is a trusted proxy; `direct` is what the
/// connection alone says.
pub(super) fn through_proxies(direct: Client, headers: &HeaderMap, proxies: &Proxies) -> Client {
    let mut hops: Vec<Hop> = match proxies.headers {
        ProxyHeaders::Forwarded => entries(headers, header::FORWARDED.as_str())
            .map(|element| element.map(forwarded_element).unwrap_or_default())
            .collect(),
        ProxyHeaders::XForwarded => entries(headers, "x-forwarded-for")
            .map(|entry| Hop {
                address: entry.and_then(|entry| node_address(entry.trim())),
                ..Hop::default()
            })
            .collect(),
    };
    let index = client_hop(&hops, &proxies.trusted);
    if proxies.headers == ProxyHeaders::XForwarded {
        // X-Forwarded-Proto and -Host describe one request: the one the nearest proxy got.
        if let Some(hop) = index.and_then(|index| hops.get_mut(index)) {
            hop.proto = last_value(headers, "x-forwarded-proto");
            hop.host = last_value(headers, "x-forwarded-host");
        }
    }
    let chosen = index.and_then(|index| hops.get(index));
    let proto = chosen
        .and_then(|hop| hop.proto.clone())
        .map(|proto| proto.to_ascii_lowercase())
        .filter(|proto| proto == "http" || proto == "https");
    let host = chosen
        .and_then(|hop| hop.host.clone())
        .filter(|host| Authority::from_str(host).is_ok());
    Client {
        address: chosen.and_then(|hop| hop.address).or(direct.address),
        scheme: proto.or(direct.scheme),
        host: host.or(direct.host),
    }
}

/// The hop that names the client: walking from the nearest proxy outwards, the first address
/// that is not a trusted proxy. An unreadable entry stops the walk at the trusted proxy that
/// wrote it (nothing left of it can be believed); a chain of trusted proxies only gives its
/// leftmost.
fn client_hop(hops: &[Hop], trusted: &TrustedProxies) -> Option<usize> {
    let mut chosen = None;
    for (index, hop) in hops.iter().enumerate().rev() {
        match hop.address {
            Some(address) if trusted.contains(address) => chosen = Some(index),
            Some(_) => return Some(index),
            None => break,
        }
    }
    chosen
}

/// The comma-separated entries of every value of the header `name`, in order; `None` for an
/// entry that is not readable text. The split is at every comma, on the raw bytes:
/// - a proxy appends its own entry to what the client sent (nginx's
///   `$proxy_add_x_forwarded_for`, or `"$http_forwarded, for=$remote_addr"`), so the
///   client's part must not be able to swallow it: an unclosed quote (`for=9.9.9.9;x="`)
///   made a quote-aware split read the whole line as the client's one element;
/// - one unreadable byte in the client's part made the whole value unreadable, and the
///   proxy itself became the client.
///
/// No value Confab reads (`for`, `proto`, `host`) holds a comma.
fn entries<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = Option<&'a str>> {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .map(|entry| std::str::from_utf8(entry).ok())
}

/// The rightmost entry of a comma-separated header (the one the nearest proxy wrote).
fn last_value(headers: &HeaderMap, name: &str) -> Option<String> {
    entries(headers, name)
        .last()
        .flatten()
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
}

/// One element of `Forwarded`: `for=...;proto=...;host=...` (RFC 7239, section 4).
fn forwarded_element(element: &str) -> Hop {
    let mut hop = Hop::default();
    for pair in split_outside_quotes(element, ';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match name.trim().to_ascii_lowercase().as_str() {
            "for" => hop.address = node_address(&value),
            "proto" => hop.proto = Some(value),
            "host" => hop.host = Some(value),
            _ => {}
        }
    }
    hop
}

/// The address of a node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare IPv6 address (as `X-Forwarded-For` writes them).
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(address) = IpAddr::from_str(node) {
        return Some(address);
    }
    if let Ok(address) = SocketAddr::from_str(node) {
        return Some(address.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| IpAddr::from_str(inner).ok())
}

/// Splits at `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && character == '\\' {
            escaped = true;
        } else if character == '"' {
            quoted = !quoted;
        } else if character == separator && !quoted {
            parts.push(&text[start..index]);
            start = index + character.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A token as it is, a quoted string without its quotes and escapes.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return value.to_owned();
    };
    let mut text = String::with_capacity(inner.len());
    let mut escaped = false;
    for character in inner.chars() {
        if escaped || character != '\\' {
            text.push(character);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    text
}
