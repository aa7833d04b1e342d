//! Who sent a request, as the HTTP layer resolved it once per request. Behind a reverse proxy
//! the socket peer is the proxy, so the address, scheme and host come from the forwarding
//! headers of proxies the operator trusts (see `confab::http::client`); everything that counts
//! or compares clients reads this instead of the connection.

use std::net::{IpAddr, Ipv6Addr};

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

    /// The key the sign-in and sign-up limiters count this client's attempts under: an IPv4
    /// address as written (an IPv4-mapped IPv6 address such as `::ffff:203.0.113.5` counts as
    /// the IPv4 address it carries, so a dual-stack listener cannot give one client two
    /// budgets), an IPv6 address as its /64 network (`2001:db8:1:2::/64`: one subscriber or
    /// host is normally given a whole /64 and can pick any of its 2^64 addresses, RFC 6177),
    /// and "unknown" without an address, so clients the server cannot tell apart share one
    /// budget rather than none.
    pub fn address_key(&self) -> String {
        match self.address.map(|address| address.to_canonical()) {
            None => "unknown".to_owned(),
            Some(IpAddr::V4(address)) => address.to_string(),
            Some(IpAddr::V6(address)) => {
                let [a, b, c, d, ..] = address.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: Option<&str>) -> String {
        Client {
            address: address.map(|text| text.parse().expect("an address")),
            scheme: None,
            host: None,
        }
        .address_key()
    }

    #[test]
    fn an_ipv4_address_is_its_own_key() {
        assert_eq!(key(Some("203.0.113.5")), "203.0.113.5");
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_the_ipv4_address() {
        assert_eq!(key(Some("::ffff:203.0.113.5")), "203.0.113.5");
        assert_eq!(key(Some("::ffff:cb00:7105")), "203.0.113.5");
    }

    #[test]
    fn the_addresses_of_one_ipv6_64_share_a_key() {
        assert_eq!(key(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            key(Some("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(key(Some("2001:db8:1:3::1")), "2001:db8:1:3::/64");
        assert_eq!(key(Some("::1")), "::/64");
    }

    #[test]
    fn without_an_address_every_client_shares_one_key() {
        assert_eq!(key(None), "unknown");
    }
}
