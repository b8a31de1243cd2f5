//! The router. Every route is registered through utoipa-axum's `routes!`, which takes the
//! path and method from the handler's `#[utoipa::path]`, so the served OpenAPI document and
//! the router cannot disagree (a test checks it from the outside as well).

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::endpoints as auth;
use crate::consumers::assign;
use crate::consumers::handlers as consumers;
use crate::consumers::{offsets, positions, records, reject};
use crate::state::Shared;
use crate::{
    acls, admin, atom, console, consume, dead_letters, feeds, group_offsets, group_reset, groups,
    history, metrics, openapi, permissions, produce, quotas, records_delete, registry, restproxy,
    search, status, users, webhooks, ws,
};

/// The router (state applied) and the OpenAPI document it serves.
pub fn build(state: Shared) -> (Router, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(admin::list, admin::create))
        .routes(routes!(acls::list, acls::create, acls::delete))
        .routes(routes!(admin::get, admin::delete))
        .routes(routes!(admin::alter_configs))
        .routes(routes!(admin::grow))
        .routes(routes!(admin::partition))
        .routes(routes!(quotas::list, quotas::set, quotas::delete))
        .routes(routes!(produce::produce))
        .routes(routes!(consume::consume, records_delete::delete))
        .routes(routes!(search::search))
        .routes(routes!(feeds::feed))
        .routes(routes!(atom::archive))
        .routes(routes!(ws::upgrade))
        .routes(routes!(restproxy::list_topics))
        .routes(routes!(restproxy::get_topic, restproxy::produce_topic))
        .routes(routes!(restproxy::list_partitions))
        .routes(routes!(
            restproxy::get_partition,
            restproxy::produce_partition
        ))
        .routes(routes!(restproxy::partition_offsets))
        .routes(routes!(restproxy::brokers))
        .routes(routes!(consumers::create))
        .routes(routes!(consumers::delete))
        .routes(routes!(
            consumers::subscribe,
            consumers::subscription,
            consumers::unsubscribe
        ))
        .routes(routes!(assign::assign, assign::assignments))
        .routes(routes!(positions::seek))
        .routes(routes!(positions::seek_beginning))
        .routes(routes!(positions::seek_end))
        .routes(routes!(records::records))
        .routes(routes!(offsets::commit, offsets::committed))
        .routes(routes!(reject::reject))
        .routes(routes!(dead_letters::report, dead_letters::list))
        .routes(routes!(groups::list))
        .routes(routes!(groups::describe, groups::delete))
        .routes(routes!(group_reset::reset))
        .routes(routes!(group_offsets::delete))
        .routes(routes!(status::status))
        .routes(routes!(users::list))
        .routes(routes!(users::put, users::delete))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::pause))
        .routes(routes!(webhooks::resume))
        .routes(routes!(webhooks::ops::test))
        .routes(routes!(webhooks::ops::secret))
        .routes(routes!(webhooks::ops::rotate))
        .routes(routes!(webhooks::ops::attempts))
        .routes(routes!(webhooks::ops::dead_letters))
        .routes(routes!(webhooks::ops::redrive))
        .routes(routes!(webhooks::ops::skip))
        .routes(routes!(webhooks::ops::resend))
        .routes(routes!(webhooks::dlq::list))
        .routes(routes!(webhooks::dlq::redrive))
        .routes(routes!(registry::subjects::list))
        .routes(routes!(
            registry::subjects::versions,
            registry::subjects::register
        ))
        .routes(routes!(
            registry::subjects::lookup,
            registry::subjects::delete_subject
        ))
        .routes(routes!(
            registry::subjects::get_version,
            registry::subjects::delete_version
        ))
        .routes(routes!(registry::subjects::get_version_schema))
        .routes(routes!(registry::subjects::referenced_by))
        .routes(routes!(registry::ids::list))
        .routes(routes!(registry::ids::by_id))
        .routes(routes!(registry::ids::by_id_schema))
        .routes(routes!(registry::ids::by_id_subjects))
        .routes(routes!(registry::ids::by_id_versions))
        .routes(routes!(registry::ids::types))
        .routes(routes!(registry::ids::contexts))
        .routes(routes!(registry::ids::metadata_id))
        .routes(routes!(registry::config::check_version))
        .routes(routes!(registry::config::check_subject))
        .routes(routes!(
            registry::config::get_global,
            registry::config::put_global
        ))
        .routes(routes!(
            registry::config::get_subject,
            registry::config::put_subject,
            registry::config::delete_subject
        ))
        .routes(routes!(
            registry::config::get_mode,
            registry::config::put_mode
        ))
        .routes(routes!(
            registry::config::get_subject_mode,
            registry::config::put_subject_mode,
            registry::config::delete_subject_mode
        ))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(openapi::healthz))
        .routes(routes!(openapi::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(history::history))
        .routes(routes!(openapi::chat_page))
        .routes(routes!(console::root))
        .routes(routes!(console::index))
        .routes(routes!(console::file))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::whoami))
        .routes(routes!(permissions::authorized_operations))
        .routes(routes!(auth::list_api_keys, auth::create_api_key))
        .routes(routes!(auth::delete_api_key))
        .routes(routes!(auth::stream_token))
        .split_for_parts();
    if let Ok(json) = doc.to_json() {
        let _ = state.openapi.set(json);
    }
    // Authentication and the route's authorization rule run after routing (they need the
    // route template). Then, innermost first: the body cap, then panic capture, then the
    // problem+json rewriter on the outside so it also shapes the 413 and 500 answers of the
    // two layers inside it; CORS outermost, answering preflights.
    let cors = crate::cors::layer(&state.config.auth.cors_allowed_origins);
    // The request metrics and access log wrap the problem+json rewriter (they see the final
    // status); the principal for the access log is noted just inside authentication.
    let router = router
        .route_layer(axum::middleware::from_fn(crate::observe::note_principal))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::middleware::guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            state.config.max_body_bytes,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(crate::rejections::problems))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::observe::observe,
        ))
        .layer(tower::util::option_layer(cors))
        .with_state(state);
    (router, doc)
}

#[cfg(test)]
mod tests {
    /// Every route must go through `.routes(routes!(…))`, which documents it; a plain
    /// `.route(`, `.nest(` or `.merge(` here would serve an undocumented path.
    #[test]
    fn every_route_is_documented() {
        let source = include_str!("routes.rs");
        let code = source.split("#[cfg(test)]").next().unwrap_or(source);
        for forbidden in [
            ".route(",
            ".nest(",
            ".merge(",
            ".fallback(",
            "route_service(",
        ] {
            assert!(!code.contains(forbidden), "routes.rs uses {forbidden}");
        }
    }
}
