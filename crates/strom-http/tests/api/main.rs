//! End-to-end tests of the HTTP API against a real listener and a real broker, one module per
//! area; shared set-up in `common` (the server) and `helpers`. They are one test binary: each
//! binary links the HTTP front end, the broker and their dependencies and instantiates their
//! generic code anew (five binaries took about 200 s of a cold release build). The areas kept
//! in `tests/<area>.rs` are included by path.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod errors;
mod helpers;
mod records;
mod rest_proxy;

#[path = "../authz_matrix.rs"]
mod authz_matrix;
#[path = "../live.rs"]
mod live;
#[path = "../openapi.rs"]
mod openapi;
#[path = "../topic_names.rs"]
mod topic_names;
