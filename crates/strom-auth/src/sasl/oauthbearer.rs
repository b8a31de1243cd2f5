//! OAUTHBEARER (RFC 7628, KIP-255) as Kafka's `OAuthBearerSaslServer`: the client message is
//! parsed by [`crate::parse_oauthbearer`] and its token checked by [`crate::TokenValidator`].
//! A rejected token is answered with the RFC 7628 §3.2.2 JSON error as a challenge; the client
//! then sends a single `%x01` and the exchange fails with the reason.

use super::{Authenticated, SaslError, Step};
use crate::TokenValidator;

#[derive(Default)]
pub(super) struct OAuthServer {
    /// Set once the error challenge was sent: the reason the exchange will fail with.
    failed: Option<String>,
    finished: bool,
}

/// RFC 7628 §3.2.2 error challenge, as Kafka sends it for a rejected token.
pub(super) fn error_challenge() -> Vec<u8> {
    br#"{"status":"invalid_token"}"#.to_vec()
}

impl OAuthServer {
    /// Why the exchange will fail, once a token was refused (the error challenge sent).
    pub(super) fn pending_failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    pub(super) fn step(
        &mut self,
        tokens: &TokenValidator,
        message: &[u8],
    ) -> Result<Step, SaslError> {
        if self.finished {
            return Err(SaslError::new(
                "OAUTHBEARER exchange already finished",
                None,
            ));
        }
        if let Some(reason) = self.failed.take() {
            // Whatever the client sends now (it should be %x01), the exchange has failed.
            self.finished = true;
            return Err(SaslError::new(reason, None));
        }
        let parsed = match crate::parse_oauthbearer(message) {
            Ok(parsed) => parsed,
            Err(err) => {
                self.finished = true;
                return Err(SaslError::new(
                    format!("Authentication failed: {}", safe(&err)),
                    None,
                ));
            }
        };
        match tokens.validate(&parsed.token) {
            Ok(valid) => {
                self.finished = true;
                if let Some(authzid) = parsed.authzid.filter(|a| !a.is_empty()) {
                    if authzid != valid.principal.name() {
                        return Err(SaslError::new(
                            "Authentication failed: Client requested an authorization id that \
                             is different from the token's principal name",
                            Some(valid.principal.name()),
                        ));
                    }
                }
                Ok(Step::Done(Authenticated {
                    principal: valid.principal,
                    challenge: Vec::new(),
                    expires_at_ms: Some(valid.expires_at_ms),
                }))
            }
            Err(err) => {
                self.failed = Some(format!("Authentication failed: {}", safe(&err)));
                Ok(Step::Continue(error_challenge()))
            }
        }
    }
}

/// The client-safe text of an auth error (its message, without the "authentication failed"
/// prefix of its display).
fn safe(err: &crate::AuthError) -> String {
    match err {
        crate::AuthError::Authentication(m) | crate::AuthError::Invalid(m) => m.clone(),
        _ => "the token could not be validated".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_token_gets_the_json_challenge_then_fails() {
        // The skeleton validator (and parser) reject everything: the exchange must end in an
        // error either at once (unparsable) or after the challenge.
        let tokens = TokenValidator::default();
        let mut server = OAuthServer::default();
        let message = b"n,,\x01auth=Bearer abc.def.ghi\x01\x01";
        match server.step(&tokens, message) {
            Ok(Step::Continue(challenge)) => {
                assert_eq!(challenge, error_challenge());
                let pending = server.pending_failure().map(str::to_string);
                assert!(pending.is_some_and(|m| m.starts_with("Authentication failed")));
                let err = server.step(&tokens, b"\x01").unwrap_err();
                assert!(err.message.starts_with("Authentication failed"));
            }
            Err(err) => assert!(err.message.starts_with("Authentication failed")),
            Ok(Step::Done(_)) => panic!("no token is valid without configured keys"),
        }
        assert!(server.step(&tokens, b"\x01").is_err(), "finished");
    }
}
