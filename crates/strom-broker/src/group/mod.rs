//! The group coordinator: Kafka's classic consumer-group protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, with static membership and server-assigned member ids) and
//! committed offsets, independent of any wire protocol. The Kafka front end and the HTTP
//! consumer API both drive the same [`GroupCoordinator`]; groups and offsets are stored in
//! the compacted internal topic `__consumer_offsets` and replayed on start-up.
//!
//! Layout: `coordinator.rs` (public API, JoinGroup), `classic.rs` (SyncGroup, Heartbeat,
//! LeaveGroup), `rebalance.rs` (state
//! transitions), `timers.rs` (session/join/sync timeouts), `offsets.rs` (commit, fetch,
//! delete, lag), `admin.rs` (list, describe, delete), `expiry.rs` (offset retention),
//! `codec.rs` + `codec_consumer.rs` + `codec_legacy.rs` + `writer.rs` + `load.rs` + `migrate.rs` (persistence),
//! `consumer_protocol.rs` (the standard consumer subscription/assignment bytes and the range
//! assignor), `consumer/` (KIP-848's consumer group protocol with server-side assignors).

mod admin;
mod classic;
mod codec;
mod codec_consumer;
mod codec_legacy;
mod config;
pub mod consumer;
mod consumer_protocol;
mod coordinator;
mod error;
mod expiry;
mod load;
mod messages;
mod metadata;
mod migrate;
mod offsets;
mod rebalance;
mod state;
mod storage;
mod timers;
mod writer;

#[cfg(test)]
mod tests;

pub use config::{GroupConfig, MigrationPolicy, OFFSETS_TOPIC};
pub use consumer_protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription,
    leader_range_assignments, range_assign, Assignment, Subscription,
};
pub use coordinator::GroupCoordinator;
pub use error::GroupError;
pub use messages::*;
pub use state::GroupState;
pub use storage::{BrokerStorage, GroupStorage};
