//! PEM bytes to a rustls `ServerConfig`: ring provider, TLS 1.2 and 1.3, and client
//! certificate verification against the configured CAs when `client_auth` asks for it.
//! Error messages say which part is wrong and why, and never quote PEM contents.
//!
//! The server picks the cipher suite by its own order, AES-128-GCM first ([`PREFERENCE`]):
//! clients (OpenSSL, so librdkafka, kcat and Node; Java too) list AES-256-GCM first, which
//! costs both sides more per byte (14 AES rounds instead of 10) for no security a 128-bit
//! key lacks here. Every suite the ring provider offers stays available.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, RootCertStore, ServerConfig, SupportedCipherSuite};

use crate::{ClientAuth, TlsPem};

/// A TLS setting that cannot be used; the binary prefixes the setting's name.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("certificate chain: {0}")]
    CertChain(String),
    #[error("private key: {0}")]
    PrivateKey(String),
    #[error("CA certificates: {0}")]
    Ca(String),
    #[error("client_auth = {0:?} needs a CA file to verify client certificates")]
    CaMissing(ClientAuth),
    #[error("{0}")]
    Rustls(String),
}

pub(crate) fn build(pem: &TlsPem) -> Result<ServerConfig, TlsConfigError> {
    let chain = certificates(&pem.cert_chain).map_err(TlsConfigError::CertChain)?;
    // The parser's error names the PEM problem (no key found, bad base64), not the key.
    let key = PrivateKeyDer::from_pem_slice(&pem.key)
        .map_err(|e| TlsConfigError::PrivateKey(pem_problem(&e)))?;
    let mut provider = rustls::crypto::ring::default_provider();
    cheapest_first(&mut provider.cipher_suites);
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    let builder = match (pem.client_auth, &pem.ca) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (mode, None) => return Err(TlsConfigError::CaMissing(mode)),
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca).map_err(TlsConfigError::Ca)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsConfigError::Ca(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsConfigError::Ca(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            TlsConfigError::PrivateKey("does not match the certificate".to_string())
        }
        other => TlsConfigError::PrivateKey(other.to_string()),
    })?;
    config.ignore_client_order = true;
    Ok(config)
}

/// The server's cipher suite order: per TLS version, AES-128-GCM, AES-256-GCM, then
/// ChaCha20-Poly1305 (the cheapest with AES instructions first).
pub(crate) const PREFERENCE: [CipherSuite; 9] = [
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// Sorts `suites` by [`PREFERENCE`]; a suite not listed keeps its place after those listed.
fn cheapest_first(suites: &mut [SupportedCipherSuite]) {
    suites.sort_by_key(|s| {
        PREFERENCE
            .iter()
            .position(|p| *p == s.suite())
            .unwrap_or(PREFERENCE.len())
    });
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_problem(&e))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block found in the PEM file".to_string());
    }
    Ok(certs)
}

fn pem_problem(err: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match err {
        Error::NoItemsFound => "no PEM block of the expected kind found".to_string(),
        Error::MissingSectionEnd { .. } | Error::IllegalSectionStart { .. } => {
            "malformed PEM section".to_string()
        }
        Error::Base64Decode(_) => "PEM block is not valid base64".to_string(),
        _ => "cannot be read as PEM".to_string(),
    }
}
