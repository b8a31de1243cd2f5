//! The feed as Atom (RFC 4287) with RFC 5005 archives, one feed per partition.
//!
//! Archive page `k` of partition `p` holds offsets `[k·P, (k+1)·P)` (`P` =
//! [`ATOM_PAGE`]). It exists once the high watermark has passed its end, and from then on
//! never changes, so it is served with a strong ETag and an immutable `Cache-Control`. The
//! subscription document (`GET /feeds/{topic}` with `Accept: application/atom+xml`) holds
//! the current, still-growing page and links to the newest archive with `prev-archive`.
//! Pages wholly removed by retention answer 410 Gone.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use strom_broker::{Partition, StoredRecord, Topic};

use crate::error::{ApiError, ApiResult};
use crate::feeds::{etag_matches, topic_tag, IMMUTABLE};
use crate::reader::{read_records, DEFAULT_MAX_BYTES};
use crate::render::{encode_b64, value_as_json};
use crate::schemas::Problem;
use crate::state::Shared;
use crate::timefmt::{now_ms, rfc3339};

/// Entries per archive document.
pub const ATOM_PAGE: i64 = 100;
const ATOM: &str = "application/atom+xml";

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn path_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn partition_of(topic: &Topic, partition: i32) -> ApiResult<Arc<Partition>> {
    topic.partition(partition).ok_or_else(|| {
        ApiError::not_found(
            "unknown-partition",
            format!(
                "partition {partition} of topic '{}' not found",
                topic.name()
            ),
        )
        .code(40402)
    })
}

/// Every record in `[start, end)`.
async fn read_range(p: &Arc<Partition>, start: i64, end: i64) -> ApiResult<Vec<StoredRecord>> {
    let mut out = Vec::new();
    let mut offset = start.max(p.log_start_offset());
    while offset < end {
        let want = (end - offset) as usize;
        let got = read_records(Arc::clone(p), offset, want, DEFAULT_MAX_BYTES).await?;
        out.extend(got.records.into_iter().filter(|r| r.offset < end));
        if got.next_offset <= offset {
            break;
        }
        offset = got.next_offset;
    }
    Ok(out)
}

/// True when every character of `text` is one XML 1.0 can carry as it is.
fn xml_safe(text: &str) -> bool {
    text.chars().all(|c| {
        !matches!(c, '\u{FFFE}' | '\u{FFFF}')
            && ((c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
    })
}

/// The `<content>` of one value (RFC 4287 §4.1.3.3): text that XML can carry as `type="text"`;
/// JSON, being a media type that is neither text nor XML, Base64-encoded with its type; any other
/// bytes (including text XML cannot carry) Base64-encoded as `application/octet-stream`.
fn content_element(value: &[u8]) -> String {
    let (kind, body) = match std::str::from_utf8(value) {
        Ok(_) if value_as_json(value).is_some() => ("application/json", encode_b64(value)),
        Ok(text) if xml_safe(text) => ("text", escape(text)),
        _ => ("application/octet-stream", encode_b64(value)),
    };
    format!("<content type=\"{kind}\">{body}</content>")
}

fn entry(topic: &str, partition: i32, r: &StoredRecord) -> String {
    let key = r.key.as_ref().map(|k| match std::str::from_utf8(k) {
        Ok(s) => s.to_string(),
        Err(_) => encode_b64(k),
    });
    let title = key
        .clone()
        .unwrap_or_else(|| format!("offset {}", r.offset));
    let method = if r.value.is_some() { "PUT" } else { "DELETE" };
    let content = r.value.as_deref().map(content_element).unwrap_or_default();
    format!(
        "<entry><id>tag:strom.dev,2026:{t}/{partition}/{o}</id><title>{title}</title><updated>{u}</updated>\
<link rel=\"alternate\" type=\"application/json\" href=\"/v1/topics/{t}/partitions/{partition}/records?offset={o}&amp;limit=1\"/>\
<category scheme=\"https://strom.dev/method\" term=\"{method}\"/>{content}</entry>",
        t = escape(&path_segment(topic)),
        o = r.offset,
        title = escape(&title),
        u = rfc3339(r.timestamp),
    )
}

struct Doc<'a> {
    topic: &'a str,
    partition: i32,
    self_href: String,
    links: Vec<(&'static str, String)>,
    archive: bool,
    records: Vec<StoredRecord>,
}

fn render(doc: Doc<'_>) -> String {
    let t = path_segment(doc.topic);
    let updated = doc
        .records
        .last()
        .map(|r| r.timestamp)
        .unwrap_or_else(now_ms);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:fh=\"http://purl.org/syndication/history/1.0\">");
    xml.push_str(&format!(
        "<id>tag:strom.dev,2026:{}/{}</id><title>{} partition {}</title><updated>{}</updated><author><name>strom</name></author>",
        escape(&t),
        doc.partition,
        escape(doc.topic),
        doc.partition,
        rfc3339(updated)
    ));
    xml.push_str(&format!(
        "<link rel=\"self\" href=\"{}\"/>",
        escape(&doc.self_href)
    ));
    for (rel, href) in &doc.links {
        xml.push_str(&format!("<link rel=\"{rel}\" href=\"{}\"/>", escape(href)));
    }
    if doc.archive {
        xml.push_str("<fh:archive/>");
    }
    // Atom lists newest first.
    for r in doc.records.iter().rev() {
        xml.push_str(&entry(doc.topic, doc.partition, r));
    }
    xml.push_str("</feed>\n");
    xml
}

fn hrefs(topic: &str, partition: i32) -> (String, impl Fn(i64) -> String) {
    let t = path_segment(topic);
    let current = format!("/feeds/{t}?partition={partition}");
    let archive = move |page: i64| format!("/feeds/{t}/archive/{partition}/{page}");
    (current, archive)
}

/// The subscription document: the current page of `partition`.
pub async fn subscription(
    _state: &Shared,
    topic: &Arc<Topic>,
    partition: i32,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let p = partition_of(topic, partition)?;
    let hw = p.last_stable_offset();
    let start = p.log_start_offset();
    let page = hw / ATOM_PAGE;
    let etag = format!(
        "\"atom-{}-{partition}-{hw}-{start}\"",
        topic_tag(topic.id())
    );
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ATOM));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, v);
    }
    if etag_matches(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let records = read_range(&p, page * ATOM_PAGE, hw).await?;
    let (current, archive) = hrefs(topic.name(), partition);
    let mut links = vec![("current", current.clone())];
    if page > 0 && page * ATOM_PAGE > start {
        links.push(("prev-archive", archive(page - 1)));
    }
    let body = render(Doc {
        topic: topic.name(),
        partition,
        self_href: current,
        links,
        archive: false,
        records,
    });
    Ok((response_headers, body).into_response())
}

/// An RFC 5005 archive document: a completed, immutable page of one partition.
#[utoipa::path(
    get,
    path = "/feeds/{topic}/archive/{partition}/{page}",
    tag = "feeds",
    params(("topic" = String, Path), ("partition" = i32, Path), ("page" = i64, Path, description = "Page k holds offsets [100k, 100k+100)")),
    responses(
        (status = 200, body = String, content_type = "application/atom+xml"),
        (status = 304, description = "Not modified"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown topic/partition, or the page is not complete yet", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The page was removed by retention", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn archive(
    State(state): State<Shared>,
    Path((topic, partition, page)): Path<(String, i32, i64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let t = state.topic(&topic)?;
    let p = partition_of(&t, partition)?;
    if !(0..=i64::MAX / ATOM_PAGE - 2).contains(&page) {
        return Err(ApiError::bad_request(format!(
            "archive page {page} is out of range"
        )));
    }
    let hw = p.last_stable_offset();
    let start = p.log_start_offset();
    let (first, end) = (page * ATOM_PAGE, (page + 1) * ATOM_PAGE);
    if end > hw {
        return Err(ApiError::not_found(
            "not-archived",
            format!("archive page {page} is not complete yet (high watermark {hw}); its entries are in the subscription document"),
        ));
    }
    if end <= start {
        return Err(ApiError::new(
            StatusCode::GONE,
            "archive-gone",
            format!("archive page {page} was removed by retention (log start {start})"),
        ));
    }
    let etag = format!("\"atom-{}-{partition}-page{page}\"", topic_tag(t.id()));
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ATOM));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, v);
    }
    if etag_matches(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let records = read_range(&p, first, end).await?;
    let (current, archive) = hrefs(&topic, partition);
    let mut links = vec![("current", current)];
    if page > 0 && first > start {
        links.push(("prev-archive", archive(page - 1)));
    }
    if end + ATOM_PAGE <= hw {
        links.push(("next-archive", archive(page + 1)));
    }
    let body = render(Doc {
        topic: &topic,
        partition,
        self_href: archive(page),
        links,
        archive: true,
        records,
    });
    Ok((response_headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            escape("<a&\"b'>\u{1}"),
            "&lt;a&amp;&quot;b&apos;&gt;\u{FFFD}"
        );
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn content_is_base64_unless_xml_can_carry_the_text() {
        assert_eq!(
            content_element(br#"{"a":1}"#),
            "<content type=\"application/json\">eyJhIjoxfQ==</content>"
        );
        assert_eq!(
            content_element(b"a<b"),
            "<content type=\"text\">a&lt;b</content>"
        );
        assert_eq!(
            content_element(&[0, 1, 2, 3]),
            "<content type=\"application/octet-stream\">AAECAw==</content>"
        );
        assert_eq!(
            content_element(&[0xff, 0xfe]),
            "<content type=\"application/octet-stream\">//4=</content>"
        );
    }
}
