//! SASL settings of `strom serve` (mapped onto [`strom_auth::sasl::SaslConfig`], whose
//! `Default` holds the defaults) and the bootstrap user created at start.

use std::time::Duration;

use strom_auth::sasl::{Mechanism, SaslConfig};
use strom_auth::{ScramMechanism, Security, MIN_ITERATIONS};

use crate::config::ConfigError;

fn invalid(message: String) -> anyhow::Error {
    anyhow::Error::new(ConfigError(message))
}

/// The SASL settings from the file; unset keys keep `SaslConfig::default()`.
/// Errors: an unknown mechanism, a zero timeout or failure rate.
pub fn sasl_config(
    mechanisms: Option<&[String]>,
    plain_allow_plaintext: Option<bool>,
    max_reauth_ms: Option<u64>,
    authentication_timeout_ms: Option<u64>,
    max_failures_per_ip_per_sec: Option<u32>,
) -> anyhow::Result<SaslConfig> {
    let defaults = SaslConfig::default();
    let mechanisms = match mechanisms {
        None => defaults.mechanisms,
        Some(names) => names
            .iter()
            .map(|n| {
                Mechanism::parse(n).ok_or_else(|| {
                    invalid(format!(
                        "sasl_enabled_mechanisms: unknown mechanism '{n}' (expected PLAIN, \
                         SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)"
                    ))
                })
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let config = SaslConfig {
        mechanisms,
        plain_allow_plaintext: plain_allow_plaintext.unwrap_or(defaults.plain_allow_plaintext),
        // Kafka's 0 means "off" too.
        max_reauth_ms: max_reauth_ms
            .filter(|ms| *ms > 0)
            .or(defaults.max_reauth_ms),
        authentication_timeout: authentication_timeout_ms
            .map_or(defaults.authentication_timeout, Duration::from_millis),
        max_failures_per_ip_per_sec: max_failures_per_ip_per_sec
            .unwrap_or(defaults.max_failures_per_ip_per_sec),
    };
    if config.authentication_timeout.is_zero() || config.max_failures_per_ip_per_sec == 0 {
        return Err(invalid(
            "sasl_authentication_timeout_ms and max_failed_authentications_per_ip_per_sec \
             must be greater than 0"
                .into(),
        ));
    }
    Ok(config)
}

/// `bootstrap_user` / `STROM_BOOTSTRAP_USER`: a user created at start when absent.
#[derive(Clone)]
pub struct BootstrapUser {
    pub user: String,
    password: String,
    pub mechanism: ScramMechanism,
}

impl std::fmt::Debug for BootstrapUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("BootstrapUser")
            .field("user", &self.user)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

impl BootstrapUser {
    /// `<user>:<password>:<mechanism>`; the password may contain `:`. Without a trailing
    /// mechanism name the mechanism is SCRAM-SHA-512.
    /// Errors: no `:`, an empty user or password (the message never contains the password).
    pub fn parse(spec: &str) -> anyhow::Result<BootstrapUser> {
        let bad = || {
            invalid(
                "bootstrap_user must be <user>:<password>:<mechanism>, e.g. \
                 admin:secret:SCRAM-SHA-512"
                    .into(),
            )
        };
        let (user, rest) = spec.split_once(':').ok_or_else(bad)?;
        let (password, mechanism) = match rest.rsplit_once(':') {
            Some((pw, m)) if ScramMechanism::from_name(m).is_some() => {
                (pw, ScramMechanism::from_name(m).ok_or_else(bad)?)
            }
            _ => (rest, ScramMechanism::Sha512),
        };
        if user.is_empty() || password.is_empty() {
            return Err(bad());
        }
        Ok(BootstrapUser {
            user: user.to_string(),
            password: password.to_string(),
            mechanism,
        })
    }

    /// Creates the user's credential unless it has one for this mechanism already (a
    /// password changed later is kept). Blocking. Errors: the credential cannot be stored.
    pub fn ensure(&self, security: &Security) -> anyhow::Result<()> {
        if security
            .users
            .credential(&self.user, self.mechanism)
            .is_some()
        {
            return Ok(());
        }
        security
            .users
            .set_password(&self.user, self.mechanism, &self.password, MIN_ITERATIONS)?;
        tracing::info!(user = %self.user, mechanism = self.mechanism.name(), "bootstrap user created");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_user_specs_parse_with_colons_in_passwords() {
        let u = BootstrapUser::parse("admin:pw:SCRAM-SHA-256").expect("valid");
        assert_eq!((u.user.as_str(), u.password.as_str()), ("admin", "pw"));
        assert_eq!(u.mechanism, ScramMechanism::Sha256);
        let u = BootstrapUser::parse("admin:a:b").expect("valid");
        assert_eq!(
            (u.password.as_str(), u.mechanism),
            ("a:b", ScramMechanism::Sha512)
        );
        for bad in ["admin", ":pw:SCRAM-SHA-256", "admin::SCRAM-SHA-256"] {
            let err = BootstrapUser::parse(bad).expect_err(bad).to_string();
            assert!(!err.contains("pw"), "{err}");
        }
        assert!(!format!("{u:?}").contains("a:b"));
    }

    #[test]
    fn sasl_settings_validate_mechanisms() {
        let c =
            sasl_config(Some(&["PLAIN".into()]), Some(true), Some(0), None, None).expect("valid");
        assert_eq!(c.mechanisms, [Mechanism::Plain]);
        assert_eq!(c.max_reauth_ms, None);
        assert!(sasl_config(Some(&["GSSAPI".into()]), None, None, None, None).is_err());
    }
}
