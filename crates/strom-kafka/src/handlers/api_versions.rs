//! ApiVersions: the API/version table from `versions.rs`. The too-new-version fallback
//! (KIP-511) is answered by the codec, because its body cannot be decoded.

use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use crate::codec::api_version_entries;

/// `sasl`: whether the listener is a SASL one (which alone advertises the SASL APIs).
pub fn handle(version: i16, request: ApiVersionsRequest, sasl: bool) -> ApiVersionsResponse {
    if version >= 3 {
        tracing::debug!(
            client = %request.client_software_name,
            client_version = %request.client_software_version,
            "ApiVersions"
        );
    }
    ApiVersionsResponse::default().with_api_keys(api_version_entries(sasl))
}
