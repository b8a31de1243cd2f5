//! The Kafka wire format at the edge: the request header and body decoding
//! ([`decode_request`]), and response encoding with the right response header version.
//! Reading the length-prefixed frames off the socket is [`crate::frame`]'s job.
//!
//! This module owns every byte-level decision about a request; it knows nothing about the
//! broker. [`decode_request`] is the single decode path used by the server, the unit tests and
//! the fuzz target, so whatever the fuzzer proves holds for the server too.

use std::panic::AssertUnwindSafe;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_protocol::ResponseError;

use crate::count_guard::decode_body;
use crate::legacy;
use crate::versions::{supported_versions, SUPPORTED_APIS};

/// A decoded request frame.
#[derive(Debug)]
pub struct DecodedRequest {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: RequestBody,
}

/// What the frame asked for.
#[derive(Debug)]
pub enum RequestBody {
    /// A request of a served API and version.
    Request(Box<RequestKind>),
    /// ApiVersions at a version newer than we serve. The body is not decoded: KIP-511 says the
    /// broker answers with a v0 response carrying UNSUPPORTED_VERSION and its API list, so
    /// the client can retry with a version both sides know.
    ApiVersionsTooNew,
}

/// Why a frame could not be turned into a request. Every variant closes the connection,
/// because the protocol has no way to answer a request we could not read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("API key {api_key} v{api_version} is not served (correlation id {correlation_id})")]
    UnsupportedApi {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
    },
    #[error("{api:?} v{api_version} is not served (correlation id {correlation_id})")]
    UnsupportedVersion {
        api: ApiKey,
        api_version: i16,
        correlation_id: i32,
    },
    #[error("malformed {api:?} v{api_version} request header: {reason}")]
    Header {
        api: ApiKey,
        api_version: i16,
        reason: String,
    },
    #[error(
        "malformed {api:?} v{api_version} request (correlation id {correlation_id}): {reason}"
    )]
    Body {
        api: ApiKey,
        api_version: i16,
        correlation_id: i32,
        reason: String,
    },
    #[error("request decoder panicked on a malformed frame")]
    Panicked,
}

/// Decodes one request frame (without its length prefix): header, then body.
///
/// Errors: [`DecodeError`] for short frames, APIs or versions we do not serve (except a too
/// new ApiVersions, which decodes to [`RequestBody::ApiVersionsTooNew`]), and malformed
/// header or body bytes. Never panics: a panic inside the protocol codec is caught and
/// reported as [`DecodeError::Panicked`].
pub fn decode_request(frame: Bytes) -> Result<DecodedRequest, DecodeError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| decode_unguarded(frame)))
        .unwrap_or(Err(DecodeError::Panicked))
}

fn decode_unguarded(mut frame: Bytes) -> Result<DecodedRequest, DecodeError> {
    // api_key, api_version and correlation_id are at fixed positions in every header version.
    if frame.len() < 8 {
        return Err(DecodeError::TooShort(frame.len()));
    }
    let mut fixed = &frame[..8];
    let raw_key = fixed.get_i16();
    let api_version = fixed.get_i16();
    let correlation_id = fixed.get_i32();
    let unsupported_api = || DecodeError::UnsupportedApi {
        api_key: raw_key,
        api_version,
        correlation_id,
    };
    let api = ApiKey::try_from(raw_key).map_err(|()| unsupported_api())?;
    if legacy::is_legacy(api, api_version) {
        return decode_legacy(frame, api, api_version, correlation_id);
    }
    let range = supported_versions(api).ok_or_else(unsupported_api)?;
    let too_new_api_versions = api == ApiKey::ApiVersions && api_version > range.max;
    if !too_new_api_versions && (api_version < range.min || api_version > range.max) {
        return Err(DecodeError::UnsupportedVersion {
            api,
            api_version,
            correlation_id,
        });
    }
    let header = RequestHeader::decode(&mut frame, api.request_header_version(api_version))
        .map_err(|e| DecodeError::Header {
            api,
            api_version,
            reason: e.to_string(),
        })?;
    if too_new_api_versions {
        return Ok(DecodedRequest {
            api_key: api,
            header,
            body: RequestBody::ApiVersionsTooNew,
        });
    }
    // Not `RequestKind::decode`: see `count_guard` for why the body needs a guarded decode.
    let body = decode_body(api, &frame, api_version).map_err(|reason| DecodeError::Body {
        api,
        api_version,
        correlation_id,
        reason,
    })?;
    Ok(DecodedRequest {
        api_key: api,
        header,
        body: RequestBody::Request(Box::new(body)),
    })
}

/// A request of a version `kafka-protocol` no longer models (see `legacy.rs`), decoded into
/// the request of the next version, which its handler answers.
fn decode_legacy(
    mut frame: Bytes,
    api: ApiKey,
    api_version: i16,
    correlation_id: i32,
) -> Result<DecodedRequest, DecodeError> {
    // Every legacy version is non-flexible: request header v1.
    let header = RequestHeader::decode(&mut frame, 1).map_err(|e| DecodeError::Header {
        api,
        api_version,
        reason: e.to_string(),
    })?;
    let body = legacy::decode_list_offsets_v0(frame).map_err(|reason| DecodeError::Body {
        api,
        api_version,
        correlation_id,
        reason,
    })?;
    Ok(DecodedRequest {
        api_key: api,
        header,
        body: RequestBody::Request(Box::new(RequestKind::ListOffsets(body))),
    })
}

/// Encodes a complete response frame: length prefix, response header, body.
///
/// ApiVersions responses always use header v0, even for flexible versions (KIP-511), so a
/// client that does not know our versions yet can still parse the answer.
/// Errors: the body holds a field the version cannot carry (a handler bug).
pub fn encode_response(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> anyhow::Result<BytesMut> {
    let header_version = if api == ApiKey::ApiVersions {
        0
    } else {
        api.response_header_version(version)
    };
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    if let (true, ResponseKind::ListOffsets(r)) = (legacy::is_legacy(api, version), body) {
        buf.put_i32(correlation_id); // response header v0
        legacy::encode_list_offsets_v0(&mut buf, r);
        let len = i32::try_from(buf.len() - 4)?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        return Ok(buf);
    }
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)?;
    body.encode(&mut buf, version)?;
    let len = i32::try_from(buf.len() - 4)?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// The API list as ApiVersions carries it; SaslHandshake and SaslAuthenticate only on SASL
/// listeners (`sasl`).
pub fn api_version_entries(sasl: bool) -> Vec<ApiVersion> {
    SUPPORTED_APIS
        .iter()
        .filter(|(api, _, _)| sasl || !is_sasl_api(*api))
        .map(|&(api, min, max)| {
            let min = legacy::LEGACY_VERSIONS
                .iter()
                .filter(|(a, _)| *a == api)
                .map(|(_, v)| *v)
                .fold(min, i16::min);
            ApiVersion::default()
                .with_api_key(api as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect()
}

/// Whether `api` is part of the SASL exchange (advertised on SASL listeners only).
pub fn is_sasl_api(api: ApiKey) -> bool {
    matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
}

/// The v0 answer to an ApiVersions request newer than we serve.
pub fn api_versions_fallback(correlation_id: i32, sasl: bool) -> anyhow::Result<BytesMut> {
    let body = ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_version_entries(sasl));
    encode_response(
        ApiKey::ApiVersions,
        0,
        correlation_id,
        &ResponseKind::ApiVersions(body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    use kafka_protocol::protocol::StrBytes;

    /// Encodes a request frame body (no length prefix) the way a client does.
    pub(crate) fn request_frame(api: ApiKey, version: i16, request: &RequestKind) -> Bytes {
        let mut buf = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(42)
            .with_client_id(Some(StrBytes::from_static_str("test")))
            .encode(&mut buf, api.request_header_version(version))
            .expect("a default header encodes");
        request
            .encode(&mut buf, version)
            .expect("test request encodes");
        buf.freeze()
    }

    #[test]
    fn decodes_metadata_at_every_served_version() {
        let range = supported_versions(ApiKey::Metadata).expect("metadata is served");
        for v in range.min..=range.max {
            let frame = request_frame(
                ApiKey::Metadata,
                v,
                &RequestKind::Metadata(MetadataRequest::default()),
            );
            let decoded = decode_request(frame).expect("valid frame decodes");
            assert_eq!(decoded.api_key, ApiKey::Metadata);
            assert_eq!(decoded.header.correlation_id, 42);
            let RequestBody::Request(kind) = decoded.body else {
                panic!("metadata decodes to a request");
            };
            assert!(matches!(*kind, RequestKind::Metadata(_)));
        }
    }

    #[test]
    fn too_new_api_versions_gets_the_fallback_not_an_error() {
        // A future ApiVersions v9 with a body we cannot know: header v2 (flexible) + junk.
        let mut buf = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(ApiKey::ApiVersions as i16)
            .with_request_api_version(9)
            .with_correlation_id(7)
            .encode(&mut buf, 2)
            .expect("header encodes");
        buf.put_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let decoded = decode_request(buf.freeze()).expect("fallback, not an error");
        assert!(matches!(decoded.body, RequestBody::ApiVersionsTooNew));
        assert_eq!(decoded.header.correlation_id, 7);

        let mut response = api_versions_fallback(7, true).expect("fallback encodes");
        let len = response.get_i32();
        assert_eq!(len as usize, response.len());
        // Header v0 is the bare correlation id, then the v0 body: error code first.
        assert_eq!(response.get_i32(), 7);
        let body = ApiVersionsResponse::decode(&mut response.freeze(), 0).expect("v0 body");
        assert_eq!(body.error_code, ResponseError::UnsupportedVersion.code());
        assert_eq!(body.api_keys.len(), SUPPORTED_APIS.len());
    }

    #[test]
    fn unsupported_api_and_version_are_errors_with_the_correlation_id() {
        let frame = request_frame(
            ApiKey::Metadata,
            13,
            &RequestKind::Metadata(MetadataRequest::default()),
        );
        assert!(matches!(
            decode_request(frame),
            Err(DecodeError::UnsupportedVersion {
                api: ApiKey::Metadata,
                api_version: 13,
                correlation_id: 42
            })
        ));
        let mut raw = BytesMut::new();
        raw.put_i16(999);
        raw.put_i16(0);
        raw.put_i32(5);
        assert!(matches!(
            decode_request(raw.freeze()),
            Err(DecodeError::UnsupportedApi {
                api_key: 999,
                correlation_id: 5,
                ..
            })
        ));
    }

    #[test]
    fn short_and_truncated_frames_are_errors() {
        assert!(matches!(
            decode_request(Bytes::from_static(&[0, 18])),
            Err(DecodeError::TooShort(2))
        ));
        let frame = request_frame(
            ApiKey::ApiVersions,
            3,
            &RequestKind::ApiVersions(
                ApiVersionsRequest::default()
                    .with_client_software_name(StrBytes::from_static_str("strom-test"))
                    .with_client_software_version(StrBytes::from_static_str("1.0")),
            ),
        );
        for cut in 8..frame.len() {
            assert!(
                decode_request(frame.slice(..cut)).is_err(),
                "truncated at {cut} must not decode"
            );
        }
    }

    #[test]
    fn response_header_versions_follow_the_flexible_rule() {
        let body = ResponseKind::Metadata(Default::default());
        // Metadata v9+ is flexible: response header v1 adds an empty tagged-field byte.
        let v8 = encode_response(ApiKey::Metadata, 8, 1, &body).expect("v8");
        let v9 = encode_response(ApiKey::Metadata, 9, 1, &body).expect("v9");
        assert_eq!(&v9[4..9], &[0, 0, 0, 1, 0]);
        assert_eq!(&v8[4..8], &[0, 0, 0, 1]);
        // ApiVersions v3 is flexible but its response header stays v0.
        let av = ResponseKind::ApiVersions(ApiVersionsResponse::default());
        let mut v3 = encode_response(ApiKey::ApiVersions, 3, 1, &av).expect("v3");
        v3.advance(8);
        assert_eq!(v3.get_i16(), 0, "error code right after the correlation id");
    }
}
