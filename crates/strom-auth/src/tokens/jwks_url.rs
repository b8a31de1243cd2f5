//! Keeping a JWKS fetched from a URL current: one background task per validator fetches it
//! at start, then every `jwks_refresh_ms`, and sooner when a token names an unknown key id,
//! but never twice within `jwks_min_refresh_ms` (so forged key ids cannot make Strom hammer
//! the identity provider). Validation never waits for it: it reads the last key set. Logs
//! name the URL's host only (a URL may carry credentials in its query).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::keys::{KeySet, KeyStore};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// How often to fetch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    pub every: Duration,
    pub min_gap: Duration,
}

/// Handle of the refresh task; dropping it stops the task.
pub(super) struct Refresher {
    wake: Arc<Notify>,
    stop: Arc<Notify>,
}

impl Refresher {
    /// Starts the task on the current tokio runtime, or on a thread of its own outside one.
    /// Errors: the HTTP client or the thread cannot be created.
    pub fn start(
        url: reqwest::Url,
        store: Weak<KeyStore>,
        schedule: Schedule,
    ) -> Result<Refresher, String> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot create the JWKS HTTP client: {e}"))?;
        let refresher = Refresher {
            wake: Arc::new(Notify::new()),
            stop: Arc::new(Notify::new()),
        };
        let task = run(
            client,
            url,
            store,
            schedule,
            Arc::clone(&refresher.wake),
            Arc::clone(&refresher.stop),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn(task)),
            Err(_) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the JWKS refresh runtime: {e}"))?;
                std::thread::Builder::new()
                    .name("strom-jwks".into())
                    .spawn(move || runtime.block_on(task))
                    .map_err(|e| format!("cannot start the JWKS refresh thread: {e}"))?;
            }
        }
        Ok(refresher)
    }

    /// Asks for an early fetch (a token named an unknown key id). Never blocks.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

async fn run(
    client: reqwest::Client,
    url: reqwest::Url,
    store: Weak<KeyStore>,
    schedule: Schedule,
    wake: Arc<Notify>,
    stop: Arc<Notify>,
) {
    let host = url.host_str().unwrap_or("?").to_string();
    loop {
        let Some(keys) = store.upgrade() else {
            return;
        };
        let wait = match fetch(&client, &url).await {
            Ok((set, skipped)) => {
                tracing::info!(host = %host, keys = set.len(), skipped, "fetched the JWKS");
                keys.replace_fetched(set);
                schedule.every
            }
            Err(error) => {
                tracing::warn!(host = %host, %error, "cannot fetch the JWKS; keeping the keys we have");
                schedule.min_gap
            }
        };
        drop(keys);
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep(schedule.min_gap) => {}
        }
        tokio::select! {
            _ = stop.notified() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait.saturating_sub(schedule.min_gap)) => {}
        }
    }
}

/// One fetch. Errors (for the log): transport, HTTP status, size, or document problems.
async fn fetch(client: &reqwest::Client, url: &reqwest::Url) -> Result<(KeySet, usize), String> {
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP status {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    KeySet::from_jwks(&body)
}

#[cfg(test)]
mod tests {
    //! A JWKS served by a loopback HTTP server: keys arrive in the background, a token with
    //! a new key id triggers a fetch, and floods of unknown key ids do not.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use parking_lot::Mutex;
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::{TokenConfig, TokenValidator};

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tokens/testdata");

    struct JwksServer {
        url: String,
        body: Arc<Mutex<String>>,
        requests: Arc<AtomicUsize>,
    }

    async fn serve(body: String) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(body));
        let requests = Arc::new(AtomicUsize::new(0));
        let (shared, count) = (Arc::clone(&body), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = vec![0u8; 4096];
                let _ = socket.read(&mut request).await;
                count.fetch_add(1, Ordering::SeqCst);
                let body = shared.lock().clone();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        JwksServer {
            url,
            body,
            requests,
        }
    }

    /// The test JWKS with only the keys whose ids are given; `rsa2` is the test's second
    /// RSA key (published as an encryption key in the file), turned into a signing key.
    fn jwks(kids: &[&str]) -> String {
        let text = std::fs::read_to_string(format!("{TESTDATA}/jwks.json")).unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        let mut keys = Vec::new();
        for key in document["keys"].as_array().unwrap() {
            let mut key = key.clone();
            if key["kid"] == "enc1" {
                key["kid"] = json!("rsa2");
                key["use"] = json!("sig");
            }
            if kids.iter().any(|kid| key["kid"] == *kid) {
                keys.push(key);
            }
        }
        json!({ "keys": keys }).to_string()
    }

    fn token(kid: &str) -> String {
        let pem = std::fs::read(format!("{TESTDATA}/{kid}.key.pem")).unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({"sub": "alice", "iss": "i", "aud": "a", "exp": now + 300});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
    }

    async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn config(url: &str, min_refresh_ms: u64) -> TokenConfig {
        TokenConfig {
            jwks_url: Some(url.to_string()),
            jwks_min_refresh_ms: min_refresh_ms,
            expected_issuer: Some("i".into()),
            expected_audience: vec!["a".into()],
            ..TokenConfig::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_come_from_the_url_and_an_unknown_kid_fetches_again() {
        let server = serve(jwks(&["rsa1"])).await;
        let validator = TokenValidator::from_config(&config(&server.url, 50)).unwrap();
        wait_until("the JWKS is fetched", || {
            validator.validate(&token("rsa1")).is_ok()
        })
        .await;
        let reason = validator.validate(&token("rsa2")).unwrap_err().to_string();
        assert!(reason.contains("key id is unknown"), "{reason}");
        *server.body.lock() = jwks(&["rsa1", "rsa2"]);
        // The unknown kid woke the refresher; the next fetch brings the new key.
        wait_until("the new key is fetched", || {
            validator.validate(&token("rsa2")).is_ok()
        })
        .await;
        assert!(server.requests.load(Ordering::SeqCst) >= 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_kids_do_not_fetch_more_often_than_the_minimum_interval() {
        let server = serve(jwks(&["rsa1"])).await;
        let validator = TokenValidator::from_config(&config(&server.url, 60_000)).unwrap();
        wait_until("the JWKS is fetched", || {
            validator.validate(&token("rsa1")).is_ok()
        })
        .await;
        let forged = token("rsa2");
        for _ in 0..200 {
            assert!(validator.validate(&forged).is_err());
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(server.requests.load(Ordering::SeqCst), 1);
    }
}
