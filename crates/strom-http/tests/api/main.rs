//! End-to-end tests of the HTTP API against a real listener and a real broker, one module per
//! area; shared set-up in `common` (the server) and `helpers`.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod errors;
mod helpers;
mod records;
mod rest_proxy;
