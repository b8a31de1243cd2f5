//! Which addresses a webhook may reach (SSRF protection). Link-local and cloud-metadata
//! addresses are always refused; loopback and private ranges are allowed only while the
//! server has no authentication configured, unless allow-listed. Checked on the *resolved*
//! address at connect time ([`GuardedResolver`] is the HTTP client's DNS resolver, and IP
//! literals are checked before each request), not only on the URL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::{Result, WebhookError};

/// An address range `a.b.c.d/n` or `x::/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Errors: `Invalid` for anything but `address/bits` or a bare address.
    pub fn parse(text: &str) -> Result<Cidr> {
        let bad = || WebhookError::Invalid(format!("invalid address range '{text}'"));
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0
}

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The policy: whether private targets are allowed, and the allow-list.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// Loopback and private ranges allowed (no authentication configured).
    pub allow_private: bool,
    /// Ranges allowed even when private (never link-local or metadata).
    pub allowed: Vec<Cidr>,
    /// Extra trusted CA certificates (PEM) for HTTPS targets (`webhook_ca_file`), on top of
    /// the public web roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl TargetPolicy {
    /// Why `ip` is refused, or `None` when it may be reached.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = canonical(ip);
        if always_refused(ip) {
            return Some("link-local, cloud metadata or unroutable address");
        }
        if is_private(ip) && !self.allow_private && !self.allowed.iter().any(|c| c.contains(ip)) {
            return Some("loopback or private address (allow-list it in webhook_allowed_networks)");
        }
        None
    }

    /// Errors: `TargetRefused` naming the address's class.
    pub fn check(&self, ip: IpAddr) -> Result<()> {
        match self.refusal(ip) {
            Some(why) => Err(WebhookError::TargetRefused(format!(
                "target address {ip} is refused: {why}"
            ))),
            None => Ok(()),
        }
    }
}

fn always_refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                // Alibaba Cloud's metadata service.
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.is_unspecified()
                || v6.is_multicast()
                // AWS's IPv6 metadata service.
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                // Carrier-grade NAT, 100.64.0.0/10.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// The HTTP client's resolver: resolves with the system resolver, then drops refused
/// addresses; none left is an error, so the connection is never made.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: Arc<TargetPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::task::spawn_blocking(move || {
                (host.as_str(), 0)
                    .to_socket_addrs()
                    .map(|a| a.collect::<Vec<SocketAddr>>())
            })
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)??;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| policy.refusal(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let err = WebhookError::TargetRefused(
                    "every resolved address of the target is refused".into(),
                );
                return Err(Box::new(err) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn metadata_and_link_local_are_always_refused() {
        let open = TargetPolicy {
            allow_private: true,
            allowed: vec![Cidr::parse("169.254.0.0/16").expect("cidr")],
            ca_pem: None,
        };
        for bad in [
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
        ] {
            assert!(open.refusal(ip(bad)).is_some(), "{bad}");
        }
        assert!(open.refusal(ip("127.0.0.1")).is_none());
    }

    #[test]
    fn private_needs_the_allow_list_once_authentication_is_on() {
        let strict = TargetPolicy {
            allow_private: false,
            allowed: vec![Cidr::parse("10.1.0.0/16").expect("cidr")],
            ca_pem: None,
        };
        assert!(strict.refusal(ip("127.0.0.1")).is_some());
        assert!(strict.refusal(ip("10.2.0.1")).is_some());
        assert!(strict.refusal(ip("10.1.200.3")).is_none());
        assert!(strict.refusal(ip("93.184.216.34")).is_none());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
    }
}
