//! Server-Sent Events: the feed pushed live. Each event's `id` is the feed cursor, so a
//! browser `EventSource` resumes exactly with `Last-Event-ID` after a reconnect. The stream
//! waits on high-watermark notifications and ends when the server shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use strom_broker::Topic;

use crate::cloudevents::cloud_event;
use crate::cursor::Cursor;
use crate::feed::read_feed;
use crate::state::Shared;

/// How long one wait lasts before the loop re-checks for shutdown and new partitions.
const WAIT: Duration = Duration::from_secs(30);

struct Follow {
    state: Shared,
    topic: Arc<Topic>,
    cursor: Cursor,
    limit: usize,
}

/// Batches of events after `cursor`, forever (until shutdown or a read error).
pub fn follow(
    state: Shared,
    topic: Arc<Topic>,
    cursor: Cursor,
    limit: usize,
) -> impl Stream<Item = Vec<crate::feed::FeedEvent>> + Send {
    let start = Follow {
        state,
        topic,
        cursor,
        limit,
    };
    stream::unfold(start, |mut f| async move {
        loop {
            if *f.state.shutdown.borrow() {
                return None;
            }
            let mut shutdown = f.state.shutdown.clone();
            match read_feed(&f.topic, &f.cursor, f.limit, WAIT, &mut shutdown).await {
                Ok(batch) if batch.events.is_empty() => {
                    // A deleted topic never gets data again.
                    f.state.broker.topic(f.topic.name())?;
                    continue;
                }
                Ok(batch) => {
                    f.cursor = batch.cursor;
                    return Some((batch.events, f));
                }
                Err(err) => {
                    tracing::warn!(topic = %f.topic.name(), error = %err, "live feed stopped");
                    return None;
                }
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
            .iter()
            .map(|e| {
                Ok(Event::default()
                    .id(e.id.to_string())
                    .data(cloud_event(&name, e).to_string()))
            })
            .collect();
        stream::iter(items)
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
