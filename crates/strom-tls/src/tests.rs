//! Handshakes over in-memory pipes with rcgen certificates: the client certificate's
//! principal under each `client_auth`, refused and garbage clients, and configuration errors
//! that name the bad part without quoting it.

#![allow(clippy::unwrap_used)] // tests: a failure is a panic with the cause

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use strom_auth::SslPrincipalMapper;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    server_cert: String,
    server_key: String,
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (kind, value) in parts {
        dn.push(kind.clone(), *value);
    }
    dn
}

fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name = dn(&[(DnType::CommonName, "strom test CA")]);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let (server_cert, server_key) = leaf(&ca, &[(DnType::CommonName, "localhost")]);
    Pki {
        ca,
        server_cert,
        server_key,
    }
}

/// A certificate for `localhost` / 127.0.0.1 with subject `subject`, signed by `ca`.
fn leaf(ca: &CertifiedIssuer<'static, KeyPair>, subject: &[(DnType, &str)]) -> (String, String) {
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name = dn(subject);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn server(pki: &Pki, client_auth: ClientAuth, rules: &str) -> TlsServer {
    let pem = TlsPem {
        cert_chain: pki.server_cert.clone().into_bytes(),
        key: pki.server_key.clone().into_bytes(),
        ca: Some(pki.ca.pem().into_bytes()),
        client_auth,
    };
    TlsServer::new(&pem, SslPrincipalMapper::parse(rules).unwrap(), &[]).unwrap()
}

fn connector(pki: &Pki, client: Option<(String, String)>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Runs a handshake; returns the server's result (after one echoed byte on success).
async fn handshake(
    tls: TlsServer,
    connector: tokio_rustls::TlsConnector,
) -> Result<Option<Principal>, AcceptError> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let client = tokio::spawn(async move {
        let name = ServerName::try_from("localhost").unwrap();
        let mut stream = connector.connect(name, client_io).await.ok()?;
        stream.write_all(b"x").await.ok()?;
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.ok()
    });
    let result = match tls.accept(server_io).await {
        Ok((mut stream, principal)) => {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.unwrap();
            stream.write_all(&byte).await.unwrap();
            stream.flush().await.unwrap();
            Ok(principal)
        }
        Err(e) => Err(e),
    };
    let _ = client.await;
    result
}

use strom_auth::Principal;

const RULES: &str = "RULE:^CN=(.*?),OU=svc(,.*)?$/$1/L,DEFAULT";

#[tokio::test]
async fn required_client_auth_maps_the_certificate_subject_to_the_principal() {
    let pki = pki();
    let alice = leaf(
        &pki.ca,
        &[
            (DnType::OrganizationName, "Org"),
            (DnType::OrganizationalUnitName, "svc"),
            (DnType::CommonName, "Alice"),
        ],
    );
    let tls = server(&pki, ClientAuth::Required, RULES);
    let principal = handshake(tls.clone(), connector(&pki, Some(alice))).await;
    assert_eq!(principal.unwrap(), Some(Principal::user("alice")));
    // Without a certificate, a `required` listener refuses the handshake.
    let refused = handshake(tls, connector(&pki, None)).await;
    assert!(
        matches!(refused, Err(AcceptError::Handshake(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn requested_client_auth_lets_clients_without_a_certificate_in_anonymously() {
    let pki = pki();
    let tls = server(&pki, ClientAuth::Requested, RULES);
    assert_eq!(
        handshake(tls.clone(), connector(&pki, None)).await.unwrap(),
        None
    );
    // The DN of a certificate no rule rewrites is the principal's name (DEFAULT).
    let bob = leaf(&pki.ca, &[(DnType::CommonName, "bob")]);
    let principal = handshake(tls, connector(&pki, Some(bob))).await.unwrap();
    assert_eq!(principal, Some(Principal::user("CN=bob")));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let pki = pki();
    let other = self::pki();
    let mallory = leaf(&other.ca, &[(DnType::CommonName, "alice")]);
    let tls = server(&pki, ClientAuth::Requested, RULES);
    let refused = handshake(tls, connector(&pki, Some(mallory))).await;
    assert!(
        matches!(refused, Err(AcceptError::Handshake(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn plaintext_and_silent_clients_fail_cleanly() {
    let pki = pki();
    let tls = server(&pki, ClientAuth::None, RULES);
    let (mut client, server_io) = tokio::io::duplex(4096);
    // A Kafka ApiVersions request in plaintext is not a TLS record.
    client
        .write_all(&[0, 0, 0, 10, 0, 18, 0, 3, 0, 0, 0, 1, 0, 0])
        .await
        .unwrap();
    let result = tls.accept(server_io).await;
    assert!(
        matches!(result, Err(AcceptError::Handshake(_))),
        "{result:?}"
    );

    let tls = tls.with_handshake_timeout(std::time::Duration::from_millis(50));
    let (_silent, server_io) = tokio::io::duplex(4096);
    let result = tls.accept(server_io).await;
    assert!(matches!(result, Err(AcceptError::Timeout(_))), "{result:?}");
    let (closing, server_io) = tokio::io::duplex(4096);
    drop(closing);
    assert!(tls.accept(server_io).await.unwrap_err().is_disconnect());
}

#[test]
fn configuration_errors_name_the_part_and_never_quote_the_key() {
    let pki = pki();
    let other = leaf(&pki.ca, &[(DnType::CommonName, "other")]);
    let base = TlsPem {
        cert_chain: pki.server_cert.clone().into_bytes(),
        key: pki.server_key.clone().into_bytes(),
        ca: None,
        client_auth: ClientAuth::None,
    };
    let build = |pem: TlsPem| TlsServer::new(&pem, SslPrincipalMapper::default(), &[]);
    let wrong_key = build(TlsPem {
        key: other.1.clone().into_bytes(),
        ..base.clone()
    });
    let err = wrong_key.unwrap_err();
    assert!(matches!(err, TlsConfigError::PrivateKey(_)), "{err}");
    assert!(!err.to_string().contains("PRIVATE KEY"));
    let key_body = pki.server_key.lines().nth(1).unwrap().to_string();
    let broken_key = format!("-----BEGIN PRIVATE KEY-----\n{key_body}\n");
    let err = build(TlsPem {
        key: broken_key.into_bytes(),
        ..base.clone()
    })
    .unwrap_err();
    assert!(matches!(err, TlsConfigError::PrivateKey(_)), "{err}");
    assert!(!err.to_string().contains(&key_body[..20]), "{err}");
    let err = build(TlsPem {
        cert_chain: pki.server_key.clone().into_bytes(),
        ..base.clone()
    })
    .unwrap_err();
    assert!(matches!(err, TlsConfigError::CertChain(_)), "{err}");
    let err = build(TlsPem {
        client_auth: ClientAuth::Required,
        ..base
    })
    .unwrap_err();
    assert!(matches!(err, TlsConfigError::CaMissing(_)), "{err}");
}

#[tokio::test]
async fn the_server_picks_aes_128_gcm_over_a_client_preferring_aes_256() {
    let pki = pki();
    let tls = server(&pki, ClientAuth::None, "DEFAULT");
    let connector = connector(&pki, None);
    // The ring provider's client lists TLS13_AES_256_GCM_SHA384 first, as OpenSSL does.
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let client = tokio::spawn(async move {
        let name = ServerName::try_from("localhost").unwrap();
        let mut stream = connector.connect(name, client_io).await.unwrap();
        stream.write_all(&[7u8; 100_000]).await.unwrap();
        stream.flush().await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let (mut stream, _) = tls.accept(server_io).await.unwrap();
    let suite = stream.get_ref().1.negotiated_cipher_suite().unwrap();
    assert_eq!(suite.suite(), rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    // And the bytes come through intact.
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got).await;
    assert_eq!(got, vec![7u8; 100_000]);
    client.await.unwrap();
}
