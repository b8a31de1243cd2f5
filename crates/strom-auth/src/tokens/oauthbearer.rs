//! The OAUTHBEARER SASL messages (RFC 7628): parsing the client's initial response (§3.1)
//! and building the server's JSON error challenge (§3.2.2). Pure functions, no I/O; error
//! messages say what is malformed and never contain the token.

use crate::AuthError;

/// The parts of an OAUTHBEARER client message (RFC 7628 §3.1:
/// `n,[a=<authzid>],\x01auth=Bearer <token>\x01[key=value\x01]*\x01`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBearerMessage {
    pub authzid: Option<String>,
    pub token: String,
}

/// The client's answer to an error challenge (RFC 7628 §3.2.3): a lone `\x01`. The server
/// then fails the authentication.
pub const OAUTHBEARER_ERROR_ACK: &[u8] = b"\x01";

const KVSEP: char = '\x01';

/// Parses an OAUTHBEARER client message.
/// Errors: `Invalid` saying what is malformed (never echoing the token): not UTF-8, a
/// GS2 header other than `n,` / `y,` with an optional `a=` authzid, channel binding (`p=`),
/// a missing or repeated `auth` pair, a scheme other than `Bearer`, characters outside
/// RFC 6750's b64token in the token, a malformed extension, or a missing final `\x01`.
pub fn parse_oauthbearer(message: &[u8]) -> Result<OAuthBearerMessage, AuthError> {
    let text = std::str::from_utf8(message).map_err(|_| invalid("the message is not UTF-8"))?;
    if message == OAUTHBEARER_ERROR_ACK {
        return Err(invalid("the message is empty (no gs2 header and no token)"));
    }
    let (authzid, rest) = parse_gs2_header(text)?;
    let rest = rest
        .strip_prefix(KVSEP)
        .ok_or_else(|| invalid("the gs2 header must be followed by \\x01"))?;
    // `*kvpair kvsep`: each pair ends with \x01, and one more \x01 ends the message.
    let end = || invalid("the message must end with \\x01\\x01");
    let pairs = rest.strip_suffix(KVSEP).ok_or_else(end)?;
    let pairs = match pairs {
        "" => None,
        pairs => Some(pairs.strip_suffix(KVSEP).ok_or_else(end)?),
    };
    let mut token = None;
    for pair in pairs.into_iter().flat_map(|p| p.split(KVSEP)) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| invalid("a key=value pair has no '='"))?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(invalid("a key must be one or more ASCII letters"));
        }
        if key == "auth" {
            if token.is_some() {
                return Err(invalid("the auth pair appears more than once"));
            }
            token = Some(parse_auth_value(value)?);
        } else if !value.bytes().all(is_value_byte) {
            return Err(invalid(
                "an extension value has characters RFC 7628 does not allow",
            ));
        }
    }
    let token = token.ok_or_else(|| invalid("the auth pair (auth=Bearer <token>) is missing"))?;
    Ok(OAuthBearerMessage { authzid, token })
}

/// The GS2 header `n,[a=authzid],` (or `y,`); returns the authzid and the rest after it.
fn parse_gs2_header(text: &str) -> Result<(Option<String>, &str), AuthError> {
    let rest = match text.split_once(',') {
        Some(("n" | "y", rest)) => rest,
        Some((flag, _)) if flag.starts_with("p=") => {
            return Err(invalid("channel binding is not supported"))
        }
        _ => return Err(invalid("the message must start with the gs2 header 'n,'")),
    };
    let (authzid, rest) = rest
        .split_once(',')
        .ok_or_else(|| invalid("the gs2 header must end with ','"))?;
    if authzid.is_empty() {
        return Ok((None, rest));
    }
    let name = authzid
        .strip_prefix("a=")
        .ok_or_else(|| invalid("the authzid must be written 'a=<name>'"))?;
    Ok((Some(decode_saslname(name)?), rest))
}

/// Decodes a saslname (RFC 5801): `=2C` is `,`, `=3D` is `=`, any other `=` is an error.
fn decode_saslname(name: &str) -> Result<String, AuthError> {
    if name.is_empty() {
        return Err(invalid("the authzid is empty"));
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(invalid("the authzid has an '=' that is not =2C or =3D")),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `Bearer <b64token>` (scheme case-insensitive, RFC 6750 §2.1).
fn parse_auth_value(value: &str) -> Result<String, AuthError> {
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| invalid("the auth value must be 'Bearer <token>'"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid("the auth scheme must be Bearer"));
    }
    let token = token.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    if body.is_empty() {
        return Err(invalid("the bearer token is empty"));
    }
    let b64token = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
    if !body.bytes().all(b64token) {
        return Err(invalid(
            "the bearer token has characters a b64token does not allow",
        ));
    }
    Ok(token.to_string())
}

/// RFC 7628's `value = *(VCHAR / SP / HTAB / CR / LF)`.
fn is_value_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7e | b' ' | b'\t' | b'\r' | b'\n')
}

fn invalid(what: &str) -> AuthError {
    AuthError::Invalid(format!("invalid OAUTHBEARER message: {what}"))
}

/// The `status` of an OAUTHBEARER error challenge (RFC 7628 §3.2.2, RFC 6749 §5.2 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeStatus {
    /// The token was rejected (expired, bad signature, wrong audience, ...): Kafka's answer.
    InvalidToken,
    /// The token lacks a scope the server requires.
    InsufficientScope,
    /// The client message was malformed.
    InvalidRequest,
}

impl ChallengeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeStatus::InvalidToken => "invalid_token",
            ChallengeStatus::InsufficientScope => "insufficient_scope",
            ChallengeStatus::InvalidRequest => "invalid_request",
        }
    }
}

/// The server's JSON error challenge (RFC 7628 §3.2.2), e.g. `{"status":"invalid_token"}`,
/// as Kafka's `OAuthBearerSaslServer` sends it before failing the exchange; the client
/// answers [`OAUTHBEARER_ERROR_ACK`]. `scope` and `openid_configuration` are added when given.
pub fn oauthbearer_error_challenge(
    status: ChallengeStatus,
    scope: Option<&str>,
    openid_configuration: Option<&str>,
) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("status".into(), status.as_str().into());
    if let Some(scope) = scope {
        body.insert("scope".into(), scope.into());
    }
    if let Some(url) = openid_configuration {
        body.insert("openid-configuration".into(), url.into());
    }
    serde_json::Value::Object(body).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    fn parse(message: &str) -> Result<OAuthBearerMessage, AuthError> {
        parse_oauthbearer(message.as_bytes())
    }

    fn error_of(message: &str) -> String {
        match parse(message) {
            Err(AuthError::Invalid(text)) => {
                assert!(!text.contains(JWT), "the error echoes the token: {text}");
                text
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_client_message_of_rfc_7628() {
        let message = parse(&format!("n,,\x01auth=Bearer {JWT}\x01\x01")).unwrap();
        assert_eq!(message.authzid, None);
        assert_eq!(message.token, JWT);
    }

    #[test]
    fn parses_authzid_with_escapes_and_extensions() {
        let text = format!(
            "n,a=us=2Cer=3D1,\x01host=server.example.com\x01auth=bearer {JWT}\x01port=143\x01\x01"
        );
        let message = parse(&text).unwrap();
        assert_eq!(message.authzid.as_deref(), Some("us,er=1"));
        assert_eq!(message.token, JWT);
    }

    #[test]
    fn accepts_padding_and_the_y_flag() {
        let message = parse("y,,\x01auth=Bearer abc==\x01\x01").unwrap();
        assert_eq!(message.token, "abc==");
    }

    #[test]
    fn rejects_malformed_messages_with_a_reason_and_without_the_token() {
        let cases = [
            (
                format!("p=tls-unique,,\x01auth=Bearer {JWT}\x01\x01"),
                "channel binding",
            ),
            (format!("x,,\x01auth=Bearer {JWT}\x01\x01"), "gs2 header"),
            (format!("n,alice,\x01auth=Bearer {JWT}\x01\x01"), "a=<name>"),
            (
                format!("n,a=al=ice,\x01auth=Bearer {JWT}\x01\x01"),
                "=2C or =3D",
            ),
            (format!("n,,auth=Bearer {JWT}\x01\x01"), "followed by \\x01"),
            (format!("n,,\x01auth=Bearer {JWT}\x01"), "end with"),
            (format!("n,,\x01auth=Bearer {JWT}"), "end with"),
            (format!("n,,\x01auth=Basic {JWT}\x01\x01"), "must be Bearer"),
            (format!("n,,\x01auth={JWT}\x01\x01"), "'Bearer <token>'"),
            ("n,,\x01auth=Bearer \x01\x01".to_string(), "empty"),
            (format!("n,,\x01auth=Bearer {JWT}!\x01\x01"), "b64token"),
            (
                format!("n,,\x01auth=Bearer {JWT}\x01auth=Bearer {JWT}\x01\x01"),
                "more than once",
            ),
            ("n,,\x01host=x\x01\x01".to_string(), "is missing"),
            ("n,,\x01\x01".to_string(), "is missing"),
            ("n,,\x01host\x01\x01".to_string(), "no '='"),
            (
                format!("n,,\x01h0st=x\x01auth=Bearer {JWT}\x01\x01"),
                "ASCII letters",
            ),
            (
                format!("n,,\x01host=\x02\x01auth=Bearer {JWT}\x01\x01"),
                "extension value",
            ),
            ("\x01".to_string(), "empty"),
        ];
        for (message, reason) in cases {
            let text = error_of(&message);
            assert!(text.contains(reason), "{message:?}: {text}");
        }
        assert!(matches!(
            parse_oauthbearer(b"n,,\x01auth=Bearer \xff\x01\x01"),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn error_challenge_is_the_json_of_rfc_7628() {
        let plain = oauthbearer_error_challenge(ChallengeStatus::InvalidToken, None, None);
        assert_eq!(plain, br#"{"status":"invalid_token"}"#);
        let full = oauthbearer_error_challenge(
            ChallengeStatus::InsufficientScope,
            Some("produce"),
            Some("https://idp/.well-known/openid-configuration"),
        );
        let value: serde_json::Value = serde_json::from_slice(&full).unwrap();
        assert_eq!(value["status"], "insufficient_scope");
        assert_eq!(value["scope"], "produce");
        assert_eq!(
            value["openid-configuration"],
            "https://idp/.well-known/openid-configuration"
        );
    }
}
