//! What `strom serve` prints (to stderr) once it is ready: where the data lives, which
//! listeners are up, and how to connect: one kcat line, one curl line. Log lines carry the
//! same facts for machines; this is for the person who just started it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;

use strom_auth::SecurityProtocol;

/// One bound Kafka listener.
pub struct KafkaListener {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub addr: SocketAddr,
}

pub struct Banner<'a> {
    pub data_dir: &'a std::path::Path,
    pub kafka: Vec<KafkaListener>,
    pub http: SocketAddr,
    pub https: bool,
    pub auto_create_topics: bool,
}

/// An address a local client can dial: a wildcard bind becomes `localhost`.
fn dialable(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

impl Banner<'_> {
    pub fn text(&self) -> String {
        let mut t = String::new();
        let scheme = if self.https { "https" } else { "http" };
        let http = format!("{scheme}://{}", dialable(self.http));
        let dir = std::fs::canonicalize(self.data_dir).unwrap_or_else(|_| self.data_dir.into());
        let _ = writeln!(t, "strom {} is ready", env!("CARGO_PKG_VERSION"));
        let _ = writeln!(t, "  data        {}", dir.display());
        for l in &self.kafka {
            let _ = writeln!(t, "  kafka       {} {} on {}", l.name, l.protocol, l.addr);
        }
        let _ = writeln!(t, "  http        {http}  (API: {http}/openapi.json)");
        let _ = writeln!(t, "connect:");
        match self
            .kafka
            .iter()
            .find(|l| l.protocol == SecurityProtocol::Plaintext)
        {
            Some(l) => {
                let b = dialable(l.addr);
                let _ = writeln!(
                    t,
                    "  echo hello | kcat -P -b {b} -t demo && kcat -C -b {b} -t demo -e"
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "  kafka: every listener needs TLS or SASL; see docs/security.md"
                );
            }
        }
        if self.auto_create_topics {
            let _ = writeln!(
                t,
                "  curl -s {http}/v1/topics/demo/records -H 'content-type: application/json' -d '{{\"records\":[{{\"value\":\"hello\"}}]}}'"
            );
        } else {
            let _ = writeln!(t, "  curl -s {http}/v1/topics");
        }
        let _ = writeln!(t, "  strom --help   (client commands use --server {http})");
        t
    }

    /// Printed to stderr; a closed stderr must not stop the server.
    pub fn print(&self) {
        let _ = std::io::stderr().write_all(self.text().as_bytes());
    }
}
