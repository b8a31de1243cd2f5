//! strom-kafka's integration tests as one test binary. Each test binary links the broker, the
//! listener and their dependencies and instantiates their generic code anew: five binaries took
//! about 270 s of a cold release build, most of it spent five times. The areas stay in their own
//! files (`tests/<area>.rs`); `common` is the in-process harness they share.

#[path = "../common/mod.rs"]
mod common;

#[path = "../authz.rs"]
mod authz;
#[path = "../decode_robustness.rs"]
mod decode_robustness;
#[path = "../fetch_sessions.rs"]
mod fetch_sessions;
#[path = "../sasl.rs"]
mod sasl;
#[path = "../server.rs"]
mod server;

// `sasl`'s SCRAM client (a file of strom-auth, included by path) names `crate::ScramMechanism`.
use strom_auth::ScramMechanism;
