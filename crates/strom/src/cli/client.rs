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
            base: server.trim_end_matches('/').to_string(),
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
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// Sends and returns the JSON body of a 2xx answer (`null` for an empty one).
    pub fn send(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .send()
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        json_or_error(response)
    }
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
