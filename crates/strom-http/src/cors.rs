//! Cross-origin access for browser apps: only the origins in `cors_allowed_origins` (none by
//! default, so nothing is cross-origin). Preflights are answered here, before routing.
//! Cross-origin callers authenticate with a header (`Authorization: Bearer`, `X-API-Key`) or
//! a stream token in the URL, never with the session cookie (it is `SameSite=Strict`), so
//! credentials mode is not allowed.

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The layer, or `None` when no origin is allowed.
pub fn layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([header::ETAG, header::LINK, header::LOCATION])
            .max_age(Duration::from_secs(600)),
    )
}
