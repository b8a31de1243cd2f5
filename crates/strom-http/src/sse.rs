//! Server-Sent Events: the feed pushed live. Each event's `id` is the feed cursor, so a
//! browser `EventSource` resumes exactly with `Last-Event-ID` after a reconnect. The stream
//! ends when the server shuts down or the topic is deleted.
//!
//! Fan-out cost: every subscriber is a [`crate::fanout::Subscription`] of the topic's one
//! follower, which reads and frames each batch once; a wake hands the subscriber the shared
//! frames of every batch published since (a refcount clone, or one copy joining several
//! pending batches into one write under load). An idle stream gets a keep-alive comment
//! after [`KEEP_ALIVE`] without a frame; the timer is re-armed only when it fires, not per
//! event.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream, StreamExt};
use strom_broker::Topic;
use tokio::time::{Instant, Sleep};

use crate::cursor::Cursor;
use crate::fanout::{Chunk, Subscription};
use crate::state::Shared;

/// An idle stream sends an SSE comment this often, so proxies keep the connection open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The keep-alive frame: an empty SSE comment.
const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

/// The SSE bytes of `chunks`: the shared buffer of a single batch, or one buffer joining
/// several.
fn encode(chunks: &[Chunk], topic: &str) -> Bytes {
    match chunks {
        [one] => one.batch.framed_from(topic, one.skip),
        many => {
            let parts: Vec<Bytes> = many
                .iter()
                .map(|c| c.batch.framed_from(topic, c.skip))
                .collect();
            let mut out = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
            for part in parts {
                out.extend_from_slice(&part);
            }
            out.freeze()
        }
    }
}

struct Live {
    sub: Subscription,
    topic: String,
    chunks: Vec<Chunk>,
    timer: Pin<Box<Sleep>>,
    last_frame: Instant,
}

/// The framed SSE bytes of every event after `cursor`, with a keep-alive comment after
/// every [`KEEP_ALIVE`] without a frame.
pub fn frames(
    state: Shared,
    topic: Arc<Topic>,
    cursor: Cursor,
    limit: usize,
) -> impl Stream<Item = Bytes> + Send {
    let sub = state.fanout.subscribe(&state, &topic, cursor, limit);
    let live = Live {
        topic: topic.name().to_string(),
        sub,
        chunks: Vec::new(),
        timer: Box::pin(tokio::time::sleep(KEEP_ALIVE)),
        last_frame: Instant::now(),
    };
    stream::unfold(live, |mut s| async move {
        loop {
            // `next` is cancel-safe: it changes the subscriber only when it returns.
            tokio::select! {
                // Events first: the timer is only looked at when no event is ready.
                biased;
                more = s.sub.next(&mut s.chunks) => {
                    if !more {
                        return None;
                    }
                    let bytes = encode(&s.chunks, &s.topic);
                    s.chunks.clear();
                    if bytes.is_empty() {
                        continue;
                    }
                    s.last_frame = Instant::now();
                    return Some((bytes, s));
                }
                _ = s.timer.as_mut() => {
                    let due = s.last_frame + KEEP_ALIVE;
                    let now = Instant::now();
                    if now < due {
                        s.timer.as_mut().reset(due);
                        continue;
                    }
                    s.last_frame = now;
                    s.timer.as_mut().reset(now + KEEP_ALIVE);
                    return Some((Bytes::from_static(KEEP_ALIVE_FRAME), s));
                }
            }
        }
    })
}

/// The SSE response for a topic from `cursor`: a raw body of shared, pre-framed bytes.
pub fn stream(state: Shared, topic: Arc<Topic>, cursor: Cursor, limit: usize) -> Response {
    let body = frames(state, topic, cursor, limit).map(Ok::<_, Infallible>);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed_cache::tests::broker;
    use strom_broker::NewRecord;

    #[tokio::test]
    async fn subscribers_stream_one_shared_encoding_of_each_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = broker(dir.path());
        let topic = b.create_topic("t", 1, &Default::default()).expect("topic");
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let state = crate::state::AppState::new(b.clone(), Default::default(), shutdown, None);
        topic
            .partition(0)
            .expect("partition")
            .append_records(&[NewRecord {
                value: Some(Bytes::from_static(b"1")),
                ..Default::default()
            }])
            .expect("append");
        let start = Cursor::beginning(1);
        let mut one = Box::pin(frames(state.clone(), topic.clone(), start.clone(), 10));
        let mut two = Box::pin(frames(state.clone(), topic.clone(), start, 10));
        let a = one.next().await.expect("first subscriber's frame");
        let c = two.next().await.expect("second subscriber's frame");
        assert!(a.starts_with(b"id: 0\ndata: {"), "{a:?}");
        assert!(a.ends_with(b"}\n\n"), "{a:?}");
        assert_eq!(a, c);
        assert_eq!(
            a.as_ptr(),
            c.as_ptr(),
            "both subscribers stream the same encoded bytes"
        );
        drop((one, two));
        b.shutdown().expect("shutdown");
    }
}
