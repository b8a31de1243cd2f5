//! SSE fan-out client: N concurrent `text/event-stream` subscribers on one topic's feed, on a
//! single-threaded tokio runtime (so one core stays free for the server). Each subscriber
//! reads events until it has M, and records produce-to-receipt latency from the `t` field
//! (seconds since the epoch, set by the producer just before it sends) of each event's data.
//! Prints `ready` once every subscriber is connected, then one JSON line of results
//! (including `cpu_s`, this client's CPU time from `ready` to the end).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use futures_util::StreamExt;

pub struct Fanout {
    pub url: String,
    pub last_event_id: String,
    pub subscribers: usize,
    pub messages: usize,
}

/// This process's CPU time (user + system) in seconds, from `/proc/self/stat`.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Clock ticks are 100 per second on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Connection attempts per subscriber: under load a connect can be reset or time out
/// (the server closes a connection whose request does not arrive within its header read
/// timeout), and one missing subscriber must not leave the run waiting forever.
const ATTEMPTS: usize = 5;

/// One subscriber: its latencies in seconds. Reports to `ready` once, connected or not.
async fn subscribe(
    client: reqwest::Client,
    f: std::sync::Arc<Fanout>,
    ready: tokio::sync::mpsc::Sender<bool>,
) -> anyhow::Result<Vec<f64>> {
    let mut attempt = 0;
    let resp = loop {
        attempt += 1;
        let sent = client
            .get(&f.url)
            .header("accept", "text/event-stream")
            .header("last-event-id", &f.last_event_id)
            .send()
            .await
            .and_then(|r| r.error_for_status());
        match sent {
            Ok(resp) => break resp,
            Err(e) if attempt >= ATTEMPTS => {
                let _ = ready.send(false).await;
                return Err(e.into());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * attempt as u64)).await,
        }
    };
    let _ = ready.send(true).await;
    let mut stream = resp.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut latencies = Vec::with_capacity(f.messages);
    while latencies.len() < f.messages {
        let chunk = stream.next().await.context("stream ended early")??;
        let received = now_s();
        pending.extend_from_slice(&chunk);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if let Some(data) = line.strip_prefix(b"data:") {
                let event: serde_json::Value = serde_json::from_slice(data)?;
                if let Some(t) = event.pointer("/data/t").and_then(|t| t.as_f64()) {
                    latencies.push(received - t);
                }
            }
        }
    }
    Ok(latencies)
}

pub fn run(f: Fanout) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let f = std::sync::Arc::new(f);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(600))
            .build()?;
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(f.subscribers.max(1));
        let mut tasks = Vec::with_capacity(f.subscribers);
        for _ in 0..f.subscribers {
            tasks.push(tokio::spawn(subscribe(
                client.clone(),
                std::sync::Arc::clone(&f),
                ready_tx.clone(),
            )));
        }
        drop(ready_tx);
        let (mut connected, mut reported) = (0, 0);
        while reported < f.subscribers {
            match ready_rx.recv().await {
                Some(ok) => {
                    reported += 1;
                    connected += usize::from(ok);
                }
                None => break,
            }
        }
        println!("ready {connected}");
        std::io::stdout().flush()?;
        let cpu_ready = cpu_s();
        let mut all = Vec::with_capacity(f.subscribers * f.messages);
        let mut errors = 0usize;
        let mut first_error = String::new();
        for t in tasks {
            match t.await {
                Ok(Ok(l)) => all.extend(l),
                Ok(Err(e)) => {
                    errors += 1;
                    if first_error.is_empty() {
                        first_error = e.to_string();
                    }
                }
                Err(e) => {
                    errors += 1;
                    first_error = e.to_string();
                }
            }
        }
        all.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| {
            if all.is_empty() {
                f64::NAN
            } else {
                all[((all.len() - 1) as f64 * p).round() as usize] * 1000.0
            }
        };
        println!(
            "{}",
            serde_json::json!({
                "delivered": all.len(),
                "errors": errors,
                "first_error": first_error,
                "p50_ms": pct(0.5),
                "p99_ms": pct(0.99),
                "max_ms": pct(1.0),
                "cpu_s": cpu_s() - cpu_ready,
            })
        );
        Ok(())
    })
}
