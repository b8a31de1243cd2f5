//! The web console at `/console/`: static files (HTML, ES modules, CSS) embedded in the binary
//! at compile time from `assets/console/`, served with a strict Content-Security-Policy
//! and an ETag (a hash of the content) so browsers revalidate cheaply. The files are public;
//! every piece of data the console shows comes from the `/v1/...` API in the browser, under
//! the caller's own credentials and the one authorizer: nothing here reads broker state.

use std::fmt::Write;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../assets/console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console; `index.html` is served at `/console/`.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("nav.js", JS),
    asset!("format.js", JS),
    asset!("overview.js", JS),
    asset!("topics.js", JS),
    asset!("topic_admin.js", JS),
    asset!("browse.js", JS),
    asset!("browse_all.js", JS),
    asset!("search.js", JS),
    asset!("export.js", JS),
    asset!("charts.js", JS),
    asset!("uPlot.esm.js", JS),
    asset!("uPlot.min.css", "text/css; charset=utf-8"),
    asset!("uPlot.LICENSE", "text/plain; charset=utf-8"),
    asset!("live.js", JS),
    asset!("groups.js", JS),
    asset!("produce.js", JS),
    asset!("login.js", JS),
    asset!("webhooks.js", JS),
    asset!("schemas.js", JS),
    asset!("perms.js", JS),
    asset!("security.js", JS),
    asset!("webhook_form.js", JS),
    asset!("diff.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The policy on every console response: only this origin's scripts, styles and API; no
/// inline script or style, no frames, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// The strong ETag of each asset (in [`ASSETS`] order): 16 bytes of its SHA-256.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                let mut etag = String::with_capacity(34);
                etag.push('"');
                for b in &digest[..16] {
                    let _ = write!(etag, "{b:02x}");
                }
                etag.push('"');
                etag
            })
            .collect()
    })
}

/// Redirects `/console` to `/console/`, so relative asset paths resolve.
#[utoipa::path(get, path = "/console", tag = "meta",
    responses((status = 308, description = "Redirect to /console/")))]
pub async fn root() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, "/console/")],
    )
        .into_response()
}

/// The web console's page (docs/console.md).
#[utoipa::path(get, path = "/console/", tag = "meta",
    responses((status = 200, description = "HTML page", body = String, content_type = "text/html"),
              (status = 304, description = "Not modified (ETag)")))]
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// A file of the web console (scripts, styles, icon).
#[utoipa::path(get, path = "/console/{file}", tag = "meta", params(("file" = String, Path)),
    responses((status = 200, description = "The file", body = String),
              (status = 304, description = "Not modified (ETag)"),
              (status = 404, description = "No such file", body = crate::schemas::Problem,
               content_type = "application/problem+json")))]
pub async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return ApiError::not_found("not-found", "no such console file").into_response();
    };
    let asset = &ASSETS[i];
    let etag = &etags()[i];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = asset.body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        r
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    // Revalidate on every use: file names carry no hash, the ETag makes it one round trip.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_its_type_csp_and_etag() {
        for asset in ASSETS {
            let response = serve(asset.name, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            let h = response.headers();
            assert_eq!(h[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
            assert!(h[header::ETAG].to_str().is_ok_and(|e| e.len() == 34));
        }
    }

    #[test]
    fn a_matching_etag_answers_304_and_unknown_files_404() {
        let etag = serve("app.js", &HeaderMap::new()).headers()[header::ETAG].clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve("app.js", &request).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            serve("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    /// The vendored uPlot is the pinned release: `npm pack uplot@1.6.32` (its `dist/`
    /// files), with the checksums docs/console.md records.
    #[test]
    fn vendored_uplot_matches_its_recorded_checksums() {
        let hex = |name: &str| {
            let asset = ASSETS.iter().find(|a| a.name == name).expect(name);
            Sha256::digest(asset.body)
                .iter()
                .fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                })
        };
        assert_eq!(
            hex("uPlot.esm.js"),
            "5dd9b3281aa64b461b42d9945f6adb2649d346502b12281a9ae0d46599a80eba"
        );
        assert_eq!(
            hex("uPlot.min.css"),
            "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"
        );
    }

    /// Every file in `assets/console/` is embedded, and every module a script imports
    /// exists (a file left out would be a 404 in the browser only).
    #[test]
    fn every_file_of_the_folder_is_embedded_and_every_import_resolves() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/console");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("assets/console")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "README.md")
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).expect("utf-8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let module = line.rsplit("\"./").next().unwrap_or("");
                let module = module.trim_end_matches("\";");
                assert!(
                    ASSETS.iter().any(|a| a.name == module),
                    "{} imports {module}, which is not embedded",
                    asset.name
                );
            }
        }
    }
}
