//! Token validation against tokens signed in the test with the checked-in test keys of
//! `testdata/` (generated for these tests only; never used anywhere else): each claim rule
//! and key source accepts the good token and refuses the bad one with its own reason.

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const ISS: &str = "https://idp.test";
const AUD: &str = "strom";

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/tokens/testdata")
        .join(name)
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn claims() -> Value {
    json!({"sub": "alice", "iss": ISS, "aud": AUD, "iat": now(), "exp": now() + 300})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn private_key(name: &str) -> EncodingKey {
    let pem = std::fs::read(testdata(&format!("{name}.key.pem"))).unwrap();
    match name {
        n if n.starts_with("rsa") => EncodingKey::from_rsa_pem(&pem).unwrap(),
        n if n.starts_with("ec") => EncodingKey::from_ec_pem(&pem).unwrap(),
        _ => EncodingKey::from_ed_pem(&pem).unwrap(),
    }
}

fn sign(alg: Algorithm, key: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &private_key(key)).unwrap()
}

fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, "rsa1", Some("rsa1"), claims)
}

fn unsecured(claims: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(&json!({"alg": "none"})), part(claims))
}

fn jwks_config() -> TokenConfig {
    TokenConfig {
        jwks_file: Some(testdata("jwks.json")),
        expected_issuer: Some(ISS.into()),
        expected_audience: vec![AUD.into()],
        ..TokenConfig::default()
    }
}

fn validator(config: TokenConfig) -> TokenValidator {
    TokenValidator::from_config(&config).unwrap()
}

/// The reason a token is refused; it must not contain the token.
fn refusal(validator: &TokenValidator, token: &str) -> String {
    match validator.validate(token) {
        Err(AuthError::Authentication(reason)) => {
            let echoed = !token.is_empty() && reason.contains(token);
            assert!(!echoed && !reason.contains("alice"), "{reason}");
            reason
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn accepts_a_valid_rs256_token_from_the_jwks() {
    let v = validator(jwks_config());
    let exp = now() + 300;
    let token = v
        .validate(&rs256(&with(claims(), "exp", json!(exp))))
        .unwrap();
    assert_eq!(token.principal, Principal::user("alice"));
    assert_eq!(token.expires_at_ms, exp * 1000);
}

#[test]
fn accepts_ec_and_eddsa_tokens_from_the_jwks_and_an_audience_list() {
    let v = validator(jwks_config());
    let claims = with(claims(), "aud", json!(["other", AUD]));
    let es = sign(Algorithm::ES256, "ec1", Some("ec1"), &claims);
    assert_eq!(v.validate(&es).unwrap().principal, Principal::user("alice"));
    let ed = sign(Algorithm::EdDSA, "ed1", Some("ed1"), &claims);
    assert_eq!(v.validate(&ed).unwrap().principal, Principal::user("alice"));
}

#[test]
fn refuses_each_bad_claim_with_its_reason() {
    let v = validator(jwks_config());
    let cases = [
        (with(claims(), "exp", json!(now() - 60)), "expired"),
        (without(claims(), "exp"), "no 'exp' claim"),
        (
            with(claims(), "exp", json!("soon")),
            "'exp' claim has the wrong type",
        ),
        (with(claims(), "aud", json!("someone-else")), "audience"),
        (without(claims(), "aud"), "no 'aud' claim"),
        (with(claims(), "iss", json!("https://evil.test")), "issuer"),
        (without(claims(), "iss"), "no 'iss' claim"),
        (without(claims(), "sub"), "no 'sub' claim"),
        (with(claims(), "sub", json!("")), "no 'sub' claim"),
        (with(claims(), "nbf", json!(now() + 600)), "not valid yet"),
        (
            with(claims(), "iat", json!(now() + 600)),
            "issued in the future",
        ),
    ];
    for (claims, reason) in cases {
        let text = refusal(&v, &rs256(&claims));
        assert!(text.contains(reason), "{claims}: {text}");
    }
}

#[test]
fn clock_skew_is_allowed_on_exp_and_nbf() {
    let v = validator(jwks_config());
    let just_expired = with(claims(), "exp", json!(now() - 5));
    assert!(v.validate(&rs256(&just_expired)).is_ok());
    let soon_valid = with(claims(), "nbf", json!(now() + 5));
    assert!(v.validate(&rs256(&soon_valid)).is_ok());
    let strict = validator(TokenConfig {
        clock_skew_seconds: 0,
        ..jwks_config()
    });
    assert!(refusal(&strict, &rs256(&just_expired)).contains("expired"));
}

#[test]
fn refuses_a_wrong_signature_and_an_unknown_key_id() {
    let v = validator(jwks_config());
    let forged = sign(Algorithm::RS256, "rsa2", Some("rsa1"), &claims());
    assert!(refusal(&v, &forged).contains("signature is invalid"));
    let unknown = sign(Algorithm::RS256, "rsa2", Some("rsa2"), &claims());
    assert!(refusal(&v, &unknown).contains("key id is unknown"));
    // An encryption key in the JWKS never verifies a signature.
    let enc = sign(Algorithm::RS256, "rsa2", Some("enc1"), &claims());
    assert!(refusal(&v, &enc).contains("key id is unknown"));
    // A key used with an algorithm its JWK does not name.
    let other_alg = sign(Algorithm::RS384, "rsa1", Some("rsa1"), &claims());
    assert!(refusal(&v, &other_alg).contains("algorithm is not accepted"));
}

#[test]
fn refuses_tampered_and_malformed_tokens() {
    let v = validator(jwks_config());
    let token = rs256(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let evil = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("admin")).to_string())
    };
    parts[1] = &evil;
    assert!(refusal(&v, &parts.join(".")).contains("signature is invalid"));
    for bad in ["", "abc", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.sig"] {
        assert!(refusal(&v, bad).contains("not a well-formed JWT"), "{bad}");
    }
}

#[test]
fn refuses_unsigned_tokens_unless_allowed() {
    let token = unsecured(&claims());
    let v = validator(jwks_config());
    assert!(refusal(&v, &token).contains("alg none"));
    let dev = validator(TokenConfig {
        allow_unsecured_jwt: true,
        ..TokenConfig::default()
    });
    // librdkafka's unsecured tokens: fractional times, no iss or aud.
    let librdkafka =
        json!({"sub": "alice", "iat": now() as f64 + 0.25, "exp": now() as f64 + 3600.5});
    let ok = dev.validate(&unsecured(&librdkafka)).unwrap();
    assert_eq!(ok.principal, Principal::user("alice"));
    let expired = with(librdkafka.clone(), "exp", json!(now() - 100));
    assert!(refusal(&dev, &unsecured(&expired)).contains("expired"));
    let signed_part = format!("{}sig", unsecured(&librdkafka));
    assert!(refusal(&dev, &signed_part).contains("empty signature"));
    // Without keys, only unsigned tokens can be accepted.
    assert!(refusal(&dev, &rs256(&claims())).contains("algorithm is not accepted"));
}

#[test]
fn principal_claim_and_required_scopes_are_configurable() {
    let v = validator(TokenConfig {
        principal_claim: "client_id".into(),
        required_scopes: vec!["kafka".into(), "produce".into()],
        ..jwks_config()
    });
    let base = with(claims(), "client_id", json!("svc-orders"));
    let good = with(base.clone(), "scope", json!("openid kafka produce"));
    assert_eq!(
        v.validate(&rs256(&good)).unwrap().principal,
        Principal::user("svc-orders")
    );
    let as_list = with(base.clone(), "scope", json!(["produce", "kafka"]));
    assert!(v.validate(&rs256(&as_list)).is_ok());
    let partial = with(base.clone(), "scope", json!("kafka"));
    assert!(refusal(&v, &rs256(&partial)).contains("required scope 'produce'"));
    assert!(refusal(&v, &rs256(&base)).contains("required scope 'kafka'"));
    let no_client_id = with(claims(), "scope", json!("kafka produce"));
    assert!(refusal(&v, &rs256(&no_client_id)).contains("no 'client_id' claim"));
}

#[test]
fn pem_keys_verify_tokens_without_a_key_id() {
    let v = validator(TokenConfig {
        pem_file: Some(testdata("rsa1.pub.pem")),
        ..jwks_config()
    });
    let ec_pem = validator(TokenConfig {
        jwks_file: None,
        pem_file: Some(testdata("ec1.pub.pem")),
        ..jwks_config()
    });
    assert!(v
        .validate(&sign(Algorithm::RS512, "rsa1", None, &claims()))
        .is_ok());
    let es = sign(Algorithm::ES256, "ec1", None, &claims());
    assert!(ec_pem.validate(&es).is_ok());
    let other = sign(Algorithm::RS256, "rsa2", None, &claims());
    assert!(refusal(&v, &other).contains("signature is invalid"));
}

#[test]
fn hmac_secret_verifies_hs256_and_no_public_key_is_an_hmac_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "0123456789abcdef0123456789abcdef";
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    let v = validator(TokenConfig {
        hmac_secret_file: Some(path),
        pem_file: Some(testdata("rsa1.pub.pem")),
        ..jwks_config()
    });
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    assert!(v.validate(&hs).is_ok());
    // Algorithm confusion: an HS256 token "signed" with the RSA public key's PEM text.
    let public_pem = std::fs::read(testdata("rsa1.pub.pem")).unwrap();
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    assert!(refusal(&v, &confused).contains("signature is invalid"));
    let jwks = validator(jwks_config());
    assert!(refusal(&jwks, &confused).contains("algorithm is not accepted"));
}

#[test]
fn jwks_parsing_skips_unusable_keys_and_refuses_documents_without_any() {
    let text = std::fs::read(testdata("jwks.json")).unwrap();
    let (set, skipped) = KeySet::from_jwks(&text).unwrap();
    assert_eq!((set.len(), skipped), (3, 2));
    for bad in [
        &b"[]"[..],
        b"{\"keys\": []}",
        b"{\"keys\": [{\"kty\": \"XYZ\"}]}",
        b"not json",
    ] {
        assert!(KeySet::from_jwks(bad).is_err());
    }
}

#[test]
fn configuration_requires_issuer_and_audience_unless_explicitly_unverified() {
    let error = |config: TokenConfig| match TokenValidator::from_config(&config) {
        Err(AuthError::Invalid(text)) => text,
        other => panic!("expected Invalid, got {:?}", other.map(|v| v.enabled())),
    };
    let no_iss = TokenConfig {
        expected_issuer: None,
        ..jwks_config()
    };
    assert!(error(no_iss.clone()).contains("expected_issuer is required"));
    let no_aud = TokenConfig {
        expected_audience: vec![],
        ..jwks_config()
    };
    assert!(error(no_aud.clone()).contains("expected_audience is required"));
    let missing = TokenConfig {
        jwks_file: Some(testdata("absent.json")),
        ..jwks_config()
    };
    assert!(error(missing).contains("cannot read oauth.jwks_file"));
    let not_pem = TokenConfig {
        pem_file: Some(testdata("jwks.json")),
        ..jwks_config()
    };
    assert!(error(not_pem).contains("oauth.pem_file"));
    // Explicitly unverified: tokens with any issuer / audience (or none) pass.
    let loose = validator(TokenConfig {
        allow_unverified_issuer: true,
        allow_unverified_audience: true,
        ..no_iss
    });
    let token = rs256(&without(with(claims(), "iss", json!("anyone")), "aud"));
    assert!(loose.validate(&token).is_ok());
    assert!(!validator(TokenConfig::default()).enabled());
    assert!(refusal(&TokenValidator::default(), &token).contains("not configured"));
}

#[test]
fn config_reads_from_toml_with_defaults() {
    let config: TokenConfig = config_from_json(
        r#"{"jwks_url": "https://idp/jwks", "expected_issuer": "i", "expected_audience": "a"}"#,
    );
    assert_eq!(config.expected_audience, vec!["a".to_string()]);
    assert_eq!(config.principal_claim, "sub");
    assert_eq!(config.clock_skew_seconds, 30);
    assert!(!config.allow_unsecured_jwt);
}

fn config_from_json(json_text: &str) -> TokenConfig {
    serde_json::from_str(json_text).unwrap()
}

#[test]
fn verified_tokens_are_cached_until_exp_and_refusals_are_not() {
    let mut v = validator(jwks_config());
    let token = rs256(&with(claims(), "exp", json!(now() + 300)));
    let other = rs256(&with(claims(), "exp", json!(now() + 301)));
    let just_expired = rs256(&with(claims(), "exp", json!(now() - 10)));
    assert!(v.validate(&token).is_ok());
    assert!(v.validate(&just_expired).is_ok(), "within the clock skew");
    assert_eq!(v.cached_tokens(), 1, "a token past its exp is not cached");
    assert!(v.validate(&format!("{token}x")).is_err());
    assert_eq!(v.cached_tokens(), 1, "refusals are not cached");
    // Without keys nothing can be verified any more: only the cached token still passes,
    // which shows the cached path skips the signature check.
    v.keys = None;
    assert_eq!(
        v.validate(&token).unwrap().principal,
        Principal::user("alice")
    );
    assert!(v.validate(&other).is_err());
    let mut uncached = validator(TokenConfig {
        token_cache_ttl_ms: 0,
        ..jwks_config()
    });
    assert!(uncached.validate(&token).is_ok());
    assert_eq!(uncached.cached_tokens(), 0);
    uncached.keys = None;
    assert!(
        uncached.validate(&token).is_err(),
        "caching off: verified every time"
    );
}
