//! WebSocket endpoint `/v1/ws`: subscribe to topics and publish to them with JSON messages,
//! enough for a browser app (a chat room) with no other API. Protocol in docs/http.md.
//!
//! One reader loop per socket; each subscription is a task on the topic's shared follower
//! ([`crate::fanout`], as SSE; event messages are rendered once per batch) sending through
//! a bounded channel to the single writer task, so a slow client applies backpressure
//! instead of growing memory (it falls behind the ring and catches up from the log). The socket holds its
//! connection's slot under the listener's connection limits until it closes.

use std::collections::HashMap;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::connection::ConnectionSlot;
use crate::cursor::Cursor;
use crate::error::ApiError;
use crate::fanout::follower::FOLLOW_LIMIT;
use crate::produce::{native_records, write, HeaderIn, Outcome, ProduceRecord};
use crate::quotas_meter::{self, Meter};
use crate::schemas::{Problem, TimestampIn};
use crate::state::Shared;

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum ClientMessage {
    Subscribe {
        topic: String,
        /// `beginning`, `end` (default) or a feed cursor (resume after it).
        #[serde(default)]
        from: Option<String>,
        #[serde(default, rename = "ref")]
        reference: Option<Value>,
    },
    Unsubscribe {
        topic: String,
        #[serde(default, rename = "ref")]
        reference: Option<Value>,
    },
    Publish {
        topic: String,
        #[serde(default, rename = "ref")]
        reference: Option<Value>,
        #[serde(default)]
        key: Option<String>,
        #[serde(default)]
        key_base64: Option<String>,
        #[serde(default)]
        value: Option<Value>,
        #[serde(default)]
        value_base64: Option<String>,
        #[serde(default)]
        partition: Option<i32>,
        #[serde(default)]
        headers: Vec<HeaderIn>,
        #[serde(default)]
        timestamp: Option<TimestampIn>,
    },
}

/// Upgrade to the WebSocket protocol (JSON messages; see docs/http.md).
#[utoipa::path(
    get,
    path = "/v1/ws",
    tag = "live",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upgrade(
    State(state): State<Shared>,
    slot: Option<Extension<ConnectionSlot>>,
    crate::caller::Caller(caller): crate::caller::Caller,
    via: Option<axum::Extension<crate::auth::middleware::Authenticated>>,
    headers: axum::http::HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws =
        ws.map_err(|e| ApiError::new(e.status(), "websocket-upgrade-required", e.body_text()))?;
    let max = state.config.max_body_bytes;
    let meter = Meter::new(&state, &caller, crate::quotas::client_id(&headers));
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            // The socket keeps its connection's slot: hyper lets go of the connection at the
            // upgrade, and the socket must still count against the connection limits.
            let _slot = slot;
            session(socket, state, WsAuth::new(caller, via, meter)).await
        }))
}

/// Who the socket belongs to, and the topic a stream token limits it to.
struct WsAuth {
    session: strom_auth::Session,
    scope: Option<String>,
    /// The quota group publishes and sent messages are charged to.
    meter: Meter,
}

impl WsAuth {
    fn new(
        session: strom_auth::Session,
        via: Option<axum::Extension<crate::auth::middleware::Authenticated>>,
        meter: Meter,
    ) -> WsAuth {
        let scope = match via {
            Some(axum::Extension(crate::auth::middleware::Authenticated(Some(
                crate::auth::credentials::Via::StreamToken(grant),
            )))) => grant.topic,
            _ => None,
        };
        WsAuth {
            session,
            scope,
            meter,
        }
    }

    /// Subscribing needs Read on the topic, publishing Write (see `authz`).
    fn check(&self, state: &Shared, message: &ClientMessage) -> Result<(), ApiError> {
        use strom_auth::{Operation, ResourceType};
        let (operation, topic) = match message {
            ClientMessage::Subscribe { topic, .. } => (Operation::Read, topic),
            ClientMessage::Publish { topic, .. } => (Operation::Write, topic),
            ClientMessage::Unsubscribe { .. } => return Ok(()),
        };
        if self.scope.as_ref().is_some_and(|s| s != topic) {
            return Err(ApiError::forbidden(operation, ResourceType::Topic, topic));
        }
        crate::authz::check(state, &self.session, operation, ResourceType::Topic, topic)
    }
}

fn message_ref(message: &ClientMessage) -> Option<Value> {
    match message {
        ClientMessage::Subscribe { reference, .. }
        | ClientMessage::Unsubscribe { reference, .. }
        | ClientMessage::Publish { reference, .. } => reference.clone(),
    }
}

fn error_message(reference: &Option<Value>, err: &ApiError) -> String {
    json!({"type": "error", "ref": reference, "status": err.status.as_u16(), "detail": err.detail})
        .to_string()
}

async fn session(socket: WebSocket, state: Shared, auth: WsAuth) {
    let (mut sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(256);
    let meter = auth.meter.clone();
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let size = match &message {
                Message::Text(t) => t.len(),
                Message::Binary(b) => b.len(),
                _ => 0,
            };
            if sink.send(message).await.is_err() {
                break;
            }
            quotas_meter::ws_sent(&meter, size).await;
        }
        let _ = sink.close().await;
    });
    let mut subscriptions: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut shutdown = state.shutdown.clone();
    loop {
        let message = tokio::select! {
            m = incoming.next() => m,
            _ = shutdown.changed() => break,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text.to_string(),
            Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        let reply = match serde_json::from_str::<ClientMessage>(&text) {
            Err(e) => Some(error_message(&None, &ApiError::malformed_json(&e))),
            Ok(m) => match auth.check(&state, &m) {
                Err(e) => Some(error_message(&message_ref(&m), &e)),
                Ok(()) => {
                    if matches!(m, ClientMessage::Publish { .. }) {
                        quotas_meter::ws_published(&auth.meter, text.len()).await;
                    }
                    handle(&state, &auth.session, m, &tx, &mut subscriptions).await
                }
            },
        };
        if let Some(reply) = reply {
            if tx.send(Message::Text(reply.into())).await.is_err() {
                break;
            }
        }
    }
    for (_, task) in subscriptions.drain() {
        task.abort();
    }
    drop(tx);
    let _ = writer.await;
}

async fn handle(
    state: &Shared,
    session: &strom_auth::Session,
    message: ClientMessage,
    tx: &mpsc::Sender<Message>,
    subscriptions: &mut HashMap<String, JoinHandle<()>>,
) -> Option<String> {
    match message {
        ClientMessage::Subscribe {
            topic,
            from,
            reference,
        } => {
            let t = match state.topic_or_create(session, &topic) {
                Ok(t) => t,
                Err(e) => return Some(error_message(&reference, &e)),
            };
            let n = t.partition_count() as usize;
            let cursor = match from.as_deref().unwrap_or("end") {
                "beginning" => Cursor::beginning(n),
                "end" => Cursor(
                    t.partitions()
                        .iter()
                        .map(|p| p.last_stable_offset() - 1)
                        .collect(),
                ),
                text => match Cursor::parse(Some(text), n) {
                    Ok(c) => c,
                    Err(e) => return Some(error_message(&reference, &e)),
                },
            };
            let reply = json!({"type": "subscribed", "topic": topic, "ref": reference, "cursor": cursor.to_string()});
            // Sent before the task starts so `subscribed` precedes the first event.
            if tx
                .send(Message::Text(reply.to_string().into()))
                .await
                .is_err()
            {
                return None;
            }
            let mut sub = state.fanout.subscribe(state, &t, cursor, FOLLOW_LIMIT);
            let tx = tx.clone();
            let name = topic.clone();
            let task = tokio::spawn(async move {
                let mut chunks = Vec::new();
                while sub.next(&mut chunks).await {
                    for chunk in chunks.drain(..) {
                        // Rendered once per batch, shared by every subscriber.
                        for message in chunk.batch.ws_messages(&name).iter().skip(chunk.skip) {
                            if tx.send(Message::Text(message.clone())).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
            if let Some(old) = subscriptions.insert(topic, task) {
                old.abort();
            }
            None
        }
        ClientMessage::Unsubscribe { topic, reference } => {
            if let Some(task) = subscriptions.remove(&topic) {
                task.abort();
            }
            Some(json!({"type": "unsubscribed", "topic": topic, "ref": reference}).to_string())
        }
        ClientMessage::Publish {
            topic,
            reference,
            key,
            key_base64,
            value,
            value_base64,
            partition,
            headers,
            timestamp,
        } => {
            let result = async {
                let value = value
                    .map(|v| serde_json::value::to_raw_value(&v))
                    .transpose()
                    .map_err(|e| ApiError::bad_request(format!("value: {e}")))?;
                let record = ProduceRecord {
                    key: key.map(Value::String),
                    key_base64,
                    value,
                    value_base64,
                    partition,
                    headers,
                    timestamp,
                };
                let t = state.topic_or_create(session, &topic)?;
                let records = native_records(state, &t, &Default::default(), vec![record])?;
                write(state, &t, records).await
            }
            .await;
            Some(match result {
                Ok(outcomes) => {
                    let offsets: Vec<Value> = outcomes
                        .into_iter()
                        .map(|o| match o {
                            Outcome::Written { partition, offset, timestamp } => {
                                json!({"partition": partition, "offset": offset, "timestamp": timestamp})
                            }
                            Outcome::Failed { partition, error } => {
                                json!({"partition": partition, "error": error.detail})
                            }
                        })
                        .collect();
                    json!({"type": "published", "topic": topic, "ref": reference, "offsets": offsets})
                        .to_string()
                }
                Err(e) => error_message(&reference, &e),
            })
        }
    }
}
