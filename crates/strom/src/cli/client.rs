//! A small blocking HTTP client over the server's API that turns problem+json answers into
//! errors naming the status and the server's own explanation.

use std::time::Duration;

use anyhow::{anyhow, Context};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

pub struct Api {
    base: String,
    client: Client,
}

impl Api {
    pub fn new(server: &str) -> anyhow::Result<Api> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Long polls hold a request open up to their timeout; leave room above it.
            .timeout(Duration::from_secs(120))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api {
            base: base_url(server),
            client,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path))
    }
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.client.put(self.url(path))
    }
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.client.patch(self.url(path))
    }
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// Sends and returns the JSON body of a 2xx answer (`null` for an empty one).
    pub fn send(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .send()
            .map_err(|e| unreachable_error(&self.base, &e))?;
        json_or_error(response)
    }
}

/// The server's base URL; `host:port` without a scheme means `http://host:port`.
pub fn base_url(server: &str) -> String {
    let server = server.trim().trim_end_matches('/');
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    }
}

/// Why the server could not be reached, with a hint for the usual mistakes.
fn unreachable_error(base: &str, err: &reqwest::Error) -> anyhow::Error {
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        chain.push_str(&format!(": {s}"));
        source = s.source();
    }
    let hint = if chain.contains("closed before message completed")
        || chain.contains("invalid HTTP version")
        || chain.contains("invalid HTTP")
    {
        "it does not answer HTTP: is that the Kafka port? --server takes the HTTP address \
         (http_listen, default http://localhost:8080); --bootstrap-style Kafka addresses are \
         for Kafka clients"
    } else if err.is_connect() {
        "nothing answers there: is `strom serve` running, and is --server (or STROM_SERVER) \
         its HTTP address?"
    } else if err.is_timeout() {
        "the server did not answer in time"
    } else {
        "the request failed"
    };
    anyhow!("cannot reach the server at {base}: {hint} ({chain})")
}

fn json_or_error(response: Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().context("cannot read the server's answer")?;
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_str(&text).context("the server's answer is not JSON");
    }
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("detail")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or(text);
    Err(anyhow!("{detail} (HTTP {})", status.as_u16()))
}

/// Percent-encodes one path segment (topic names may hold `.` and `_`, which are safe).
pub fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_address_means_http() {
        assert_eq!(super::base_url("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(super::base_url("https://h:1/"), "https://h:1");
    }
}
