//! PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`, checked against the SCRAM user store
//! by deriving the stored key from the password. As Kafka's `PlainSaslServer`, an authzid
//! other than the user name is refused.

use super::{Authenticated, SaslError, INVALID_CREDENTIALS};
use crate::{Principal, UserStore};

/// Errors: a malformed message, an authzid that is not the user, or wrong credentials.
pub(super) fn authenticate(users: &UserStore, token: &[u8]) -> Result<Authenticated, SaslError> {
    let text = std::str::from_utf8(token)
        .map_err(|_| SaslError::new("Invalid SASL/PLAIN message: not UTF-8", None))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::new(
            "Invalid SASL/PLAIN response: expected 3 tokens separated by NUL",
            None,
        ));
    };
    if user.is_empty() {
        return Err(SaslError::new(
            "Authentication failed: username not specified",
            None,
        ));
    }
    if password.is_empty() {
        return Err(SaslError::new(
            "Authentication failed: password not specified",
            Some(user),
        ));
    }
    if !authzid.is_empty() && authzid != user {
        return Err(SaslError::new(
            "Authentication failed: Client requested an authorization id that is different \
             from username",
            Some(user),
        ));
    }
    if !users.verify_password(user, password) {
        return Err(SaslError::new(INVALID_CREDENTIALS, Some(user)));
    }
    Ok(Authenticated {
        principal: Principal::user(user),
        challenge: Vec::new(),
        expires_at_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::ScramMechanism;
    use std::sync::Arc;

    fn users() -> UserStore {
        let users = UserStore::new(Arc::new(Store::in_memory()));
        users
            .set_password("alice", ScramMechanism::Sha256, "pw", 4096)
            .expect("set");
        users
    }

    #[test]
    fn plain_checks_password_authzid_and_shape() {
        let users = users();
        let ok = authenticate(&users, b"\0alice\0pw").expect("right password");
        assert_eq!(ok.principal, Principal::user("alice"));
        assert!(authenticate(&users, b"alice\0alice\0pw").is_ok());
        let wrong = authenticate(&users, b"\0alice\0px").unwrap_err();
        assert_eq!(wrong.message, INVALID_CREDENTIALS);
        assert_eq!(wrong.user.as_deref(), Some("alice"));
        let unknown = authenticate(&users, b"\0bob\0pw").unwrap_err();
        assert_eq!(
            unknown.message, INVALID_CREDENTIALS,
            "no hint that bob is unknown"
        );
        assert!(authenticate(&users, b"bob\0alice\0pw")
            .unwrap_err()
            .message
            .contains("authorization id"));
        for bad in [
            &b"alice\0pw"[..],
            b"\0alice\0pw\0x",
            b"\0\0pw",
            b"\0alice\0",
        ] {
            assert!(authenticate(&users, bad).is_err(), "{bad:?}");
        }
    }
}
