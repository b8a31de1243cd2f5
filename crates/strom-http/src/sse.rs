//! Server-Sent Events: the feed pushed live. Each event's `id` is the feed cursor, so a
//! browser `EventSource` resumes exactly with `Last-Event-ID` after a reconnect. The stream
//! waits on high-watermark notifications and ends when the server shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
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

/// The SSE response for a topic from `cursor`.
pub fn stream(
    state: Shared,
    topic: Arc<Topic>,
    cursor: Cursor,
    limit: usize,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let name = topic.name().to_string();
    let events = follow(state, topic, cursor, limit).flat_map(move |batch| {
        let items: Vec<Result<Event, Infallible>> = batch
            .rendered(&name)
            .iter()
            .map(|(id, json)| Ok(Event::default().id(id).data(json)))
            .collect();
        stream::iter(items)
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
