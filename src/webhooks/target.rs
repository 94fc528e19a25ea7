//! Where a webhook may go: an `http` or `https` URL whose host is, or resolves to, public
//! addresses only — unless `webhooks.allow_private_addresses` says otherwise. Checked
//! when an endpoint is registered and again on every connection (the HTTP client
//! resolves through [`resolve`]), because a name's addresses can change in between: a
//! name that resolved to a public address when registered and to 127.0.0.1 later must
//! not reach a service on the server's own machine or network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The most characters a URL may have.
pub const MAX_URL_LENGTH: usize = 2000;

/// An endpoint URL as stored: http(s), a host, no credentials, no fragment.
pub fn parse_url(text: &str) -> Result<url::Url, String> {
    if text.chars().count() > MAX_URL_LENGTH {
        return Err(format!("must be at most {MAX_URL_LENGTH} characters"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password (the signature authenticates the sender)".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    Ok(url)
}

/// Whether an address is one the public Internet routes to a single host: not
/// unspecified, loopback, private (RFC 1918, unique-local fc00::/7), shared (100.64/10),
/// link-local, documentation, benchmarking, multicast, broadcast or reserved, and for
/// IPv6 forms that embed an IPv4 address, whether that address is.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let embedded_v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match segments {
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded_v4(high, low)),
        [0x2002, high, low, ..] => is_public_v4(embedded_v4(high, low)),
        // Deprecated IPv4-compatible addresses (::a.b.c.d), :: and ::1 among them.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        _ => {
            let first = segments[0];
            !((first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (first & 0xff00) == 0xff00 // multicast
                || (first == 0x2001 && segments[1] == 0x0db8) // documentation
                || (first == 0x0100 && segments[1..4] == [0, 0, 0])) // discard 100::/64
        }
    }
}

/// The addresses of `host:port` a webhook may connect to: every one when private
/// addresses are allowed, else the public ones; an error when none is left.
pub fn resolve(netloc: &str, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let all: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    if allow_private {
        return Ok(all);
    }
    let public: Vec<SocketAddr> = all.iter().copied().filter(|a| is_public(a.ip())).collect();
    if public.is_empty() && !all.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{netloc} resolves to {}, not a public address (webhooks.allow_private_addresses is off)",
                all.iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(public)
}

/// Checks an endpoint URL before it is stored: resolves its host (blocking: call it off
/// the async threads) and refuses it when it has no address a webhook may go to.
pub fn check_destination(url: &url::Url, allow_private: bool) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    // `host_str` keeps an IPv6 literal's brackets, as `host:port` needs them.
    match resolve(&format!("{host}:{port}"), allow_private) {
        Ok(addresses) if addresses.is_empty() => Err(format!("{host} has no address")),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(e.to_string()),
        Err(e) => Err(format!("{host} cannot be resolved: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "0.0.0.0",
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "100::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "193.0.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        assert!(parse_url("https://hooks.example.org/rallypoint?token=x").is_ok());
        assert!(parse_url("http://[::1]:8080/hook").is_ok());
        for refused in [
            "ftp://example.org/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://user:pass@example.org/",
            "https://example.org/#top",
            "not a url",
            "http://",
        ] {
            assert!(parse_url(refused).is_err(), "{refused}");
        }
        assert!(parse_url(&format!("https://example.org/{}", "a".repeat(MAX_URL_LENGTH))).is_err());
    }

    #[test]
    fn loopback_is_refused_unless_allowed() {
        let url = parse_url("http://127.0.0.1:9/").unwrap();
        let refused = check_destination(&url, false).unwrap_err();
        assert!(refused.contains("not a public address"), "{refused}");
        assert!(check_destination(&url, true).is_ok());
        let v6 = parse_url("http://[::1]:9/").unwrap();
        assert!(check_destination(&v6, false).is_err());
        assert!(check_destination(&v6, true).is_ok());
    }
}
