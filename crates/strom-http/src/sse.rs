//! Server-Sent Events: the feed pushed live. Each event's `id` is the feed cursor, so a
//! browser `EventSource` resumes exactly with `Last-Event-ID` after a reconnect. The stream
//! waits on high-watermark notifications and ends when the server shuts down.
//!
//! Fan-out cost: a batch's SSE frames are encoded once ([`SharedBatch::framed`]) and every
//! subscriber streams the same `Bytes` (a refcount clone and a write), so the per-subscriber
//! work does not grow with the event size or the JSON rendering.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::select_all;
use futures_util::stream::{self, Stream, StreamExt};
use strom_broker::Topic;

use crate::cursor::Cursor;
use crate::feed_cache::SharedBatch;
use crate::state::Shared;

/// How long one wait lasts before the loop re-checks for shutdown and new partitions.
const WAIT: Duration = Duration::from_secs(30);

struct Follow {
    state: Shared,
    topic: Arc<Topic>,
    cursor: Cursor,
    limit: usize,
}

/// Batches of events after `cursor`, forever (until shutdown, topic deletion or a read
/// error). Reads go through the shared [`crate::feed_cache::FeedCache`]; waiting is on the
/// partitions' high-watermark notifications.
pub fn follow(
    state: Shared,
    topic: Arc<Topic>,
    cursor: Cursor,
    limit: usize,
) -> impl Stream<Item = Arc<SharedBatch>> + Send {
    let start = Follow {
        state,
        topic,
        cursor,
        limit,
    };
    stream::unfold(start, |mut f| async move {
        let mut shutdown = f.state.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                return None;
            }
            // Subscribe before reading so an append in between still wakes us.
            let mut watchers: Vec<_> = f.topic.partitions().iter().map(|p| p.subscribe()).collect();
            match f.state.feed_cache.read(&f.topic, &f.cursor, f.limit).await {
                Ok(batch) if !batch.batch.events.is_empty() => {
                    f.cursor = batch.batch.cursor.clone();
                    return Some((batch, f));
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(topic = %f.topic.name(), error = %err, "live feed stopped");
                    return None;
                }
            }
            if watchers.is_empty() {
                return None;
            }
            let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
            tokio::select! {
                (result, _, _) = changed => {
                    // A closed notifier: the partition is gone (topic deleted).
                    if result.is_err() {
                        return None;
                    }
                }
                // Now and then: pick up partitions added meanwhile, and stop if the topic
                // was deleted (this follower's own handle keeps its notifiers open).
                _ = tokio::time::sleep(WAIT) => {
                    match f.state.broker.topic(f.topic.name()) {
                        Some(t) if t.id() == f.topic.id() => f.topic = t,
                        _ => return None,
                    }
                }
                _ = shutdown.changed() => return None,
            }
        }
    })
}

/// An idle stream sends an SSE comment this often, so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The keep-alive frame: an empty SSE comment.
const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

/// The framed SSE bytes of every batch after `cursor`: the cached batch's shared buffer,
/// not a copy.
pub fn frames(
    state: Shared,
    topic: Arc<Topic>,
    cursor: Cursor,
    limit: usize,
) -> impl Stream<Item = Bytes> + Send {
    let name = topic.name().to_string();
    follow(state, topic, cursor, limit).map(move |batch| batch.framed(&name).clone())
}

/// `frames` with a keep-alive comment after every `KEEP_ALIVE` without a frame.
fn with_keep_alive(
    frames: impl Stream<Item = Bytes> + Send + 'static,
) -> impl Stream<Item = Bytes> + Send {
    let timer = Box::pin(tokio::time::sleep(KEEP_ALIVE));
    stream::unfold(
        (Box::pin(frames), timer),
        |(mut frames, mut timer)| async move {
            // `next()` is cancel-safe: a frame being produced stays in the stream's state.
            let item = tokio::select! {
                next = frames.next() => next?,
                _ = timer.as_mut() => Bytes::from_static(KEEP_ALIVE_FRAME),
            };
            timer
                .as_mut()
                .reset(tokio::time::Instant::now() + KEEP_ALIVE);
            Some((item, (frames, timer)))
        },
    )
}

/// The SSE response for a topic from `cursor`: a raw body of shared, pre-framed bytes.
pub fn stream(state: Shared, topic: Arc<Topic>, cursor: Cursor, limit: usize) -> Response {
    let body = with_keep_alive(frames(state, topic, cursor, limit)).map(Ok::<_, Infallible>);
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
