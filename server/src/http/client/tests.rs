//! What `resolve` believes, from whom.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use confab_core::auth::client::Client;

use super::{resolve, Proxies, ProxyHeaders, TrustedProxies};

const PROXY: &str = "10.0.0.5";

fn trusted() -> TrustedProxies {
    TrustedProxies::parse("10.0.0.0/24, ::1").expect("valid list")
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    map
}

/// The client of a request from `peer` when the proxies write `written`.
fn client_through(written: ProxyHeaders, peer: &str, pairs: &[(&str, &str)]) -> Client {
    let peer: IpAddr = peer.parse().expect("peer address");
    let proxies = Proxies {
        trusted: trusted(),
        headers: written,
    };
    resolve(
        Some(peer),
        Some("confab.internal:3000".to_owned()),
        &headers(pairs),
        &proxies,
    )
}

/// The client of a request from `peer` behind proxies that write `X-Forwarded-*`.
fn client_of(peer: &str, pairs: &[(&str, &str)]) -> Client {
    client_through(ProxyHeaders::XForwarded, peer, pairs)
}

/// The client expected: `scheme` is `None` where no trusted proxy named one.
fn client(address: &str, scheme: Option<&str>, host: &str) -> Client {
    Client {
        address: Some(address.parse().expect("address")),
        scheme: scheme.map(str::to_owned),
        host: Some(host.to_owned()),
    }
}

#[test]
fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let spoofed = client_of(
        "203.0.113.9",
        &[
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "chat.example.com"),
            (
                "forwarded",
                "for=198.51.100.2;proto=https;host=chat.example.com",
            ),
        ],
    );
    assert_eq!(spoofed, client("203.0.113.9", None, "confab.internal:3000"));
}

#[test]
fn the_client_is_the_rightmost_untrusted_address_of_x_forwarded_for() {
    // The first entry is the client's own claim; nginx appended the real address.
    let resolved = client_of(
        PROXY,
        &[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "chat.example.com"),
        ],
    );
    assert_eq!(
        resolved,
        client("198.51.100.7", Some("https"), "chat.example.com")
    );
}

#[test]
fn behind_proxies_that_write_forwarded_it_is_read_as_rfc_7239_writes_it() {
    let resolved = client_through(
        ProxyHeaders::Forwarded,
        "::1",
        &[
            ("x-forwarded-for", "192.0.2.200"),
            (
                "forwarded",
                r#"for="_hidden";proto=http, For="[2001:db8:cafe::17]:4711";Proto=HTTPS;host="chat.example.com""#,
            ),
            ("forwarded", "for=10.0.0.7;proto=http;host=inner"),
        ],
    );
    assert_eq!(
        resolved,
        client("2001:db8:cafe::17", Some("https"), "chat.example.com")
    );
}

#[test]
fn the_header_family_the_proxies_do_not_write_is_the_clients_own_and_ignored() {
    // nginx appends to X-Forwarded-For and passes a client's Forwarded on as it came.
    let claims = [
        ("forwarded", "for=192.0.2.1;proto=https;host=evil.example"),
        ("x-forwarded-for", "198.51.100.7"),
    ];
    assert_eq!(
        client_of(PROXY, &claims),
        client("198.51.100.7", None, "confab.internal:3000")
    );
    let claims = [
        ("forwarded", "for=198.51.100.7"),
        ("x-forwarded-for", "192.0.2.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
    ];
    assert_eq!(
        client_through(ProxyHeaders::Forwarded, PROXY, &claims),
        client("198.51.100.7", None, "confab.internal:3000")
    );
}

#[test]
fn an_unreadable_entry_stops_at_the_trusted_proxy_that_wrote_it() {
    let resolved = client_through(
        ProxyHeaders::Forwarded,
        PROXY,
        &[("forwarded", "for=unknown, for=10.0.0.7")],
    );
    assert_eq!(resolved, client("10.0.0.7", None, "confab.internal:3000"));
}

#[test]
fn a_trusted_peer_without_forwarding_headers_is_the_client() {
    assert_eq!(
        client_of(PROXY, &[]),
        client(PROXY, None, "confab.internal:3000")
    );
}

#[test]
fn a_bad_scheme_or_host_from_a_proxy_is_not_taken() {
    let resolved = client_of(
        PROXY,
        &[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-proto", "javascript"),
            ("x-forwarded-host", "a b/c"),
        ],
    );
    assert_eq!(
        resolved,
        client("198.51.100.7", None, "confab.internal:3000")
    );
}

#[test]
fn an_ipv4_mapped_peer_is_its_ipv4_address() {
    let resolved = client_of("::ffff:10.0.0.5", &[("x-forwarded-for", "198.51.100.7")]);
    assert_eq!(
        resolved.address,
        Some("198.51.100.7".parse().expect("address"))
    );
}

#[test]
fn the_setting_takes_addresses_and_ranges_and_refuses_anything_else() {
    assert_eq!(TrustedProxies::parse(" "), Ok(TrustedProxies::default()));
    let list = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8,fd00::/8").expect("valid");
    assert!(list.contains("10.200.3.4".parse().expect("address")));
    assert!(list.contains("fd12::1".parse().expect("address")));
    assert!(!list.contains("127.0.0.2".parse().expect("address")));
    assert_eq!(
        TrustedProxies::parse("10.0.0.0/8, nginx"),
        Err("CONFAB_TRUSTED_PROXIES entry \"nginx\" is not an IP address or CIDR range".to_owned())
    );
    assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
}

/// A client's unclosed quote cannot swallow the element its proxy appends on the same line
/// (`proxy_set_header Forwarded "$http_forwarded, for=$remote_addr"`): read quote-aware, the
/// whole line was the client's one element, and the client chose its own address.
#[test]
fn an_unclosed_quote_cannot_hide_the_proxys_element() {
    let resolved = client_through(
        ProxyHeaders::Forwarded,
        PROXY,
        &[("forwarded", r#"for=9.9.9.9;x=", for=198.51.100.7"#)],
    );
    assert_eq!(
        resolved,
        client("198.51.100.7", None, "confab.internal:3000")
    );
}

/// An unreadable byte in the client's part of `X-Forwarded-For` spoils only that entry: read
/// as one value, the whole header was dropped and the proxy became the client, one login
/// budget shared by everyone who tried it.
#[test]
fn an_unreadable_byte_spoils_only_the_clients_own_entry() {
    let mut map = HeaderMap::new();
    map.append(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.7").expect("header value"),
    );
    let proxies = Proxies {
        trusted: trusted(),
        headers: ProxyHeaders::XForwarded,
    };
    let resolved = resolve(
        Some(PROXY.parse().expect("peer")),
        Some("confab.internal:3000".to_owned()),
        &map,
        &proxies,
    );
    assert_eq!(
        resolved,
        client("198.51.100.7", None, "confab.internal:3000")
    );
}
