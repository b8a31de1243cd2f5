//! The principal of a TLS client certificate, as Kafka derives it: the subject DN rendered
//! like Java's `X500Principal.getName()` (RFC 2253: most specific RDN first, Java's keywords
//! and escaping, other attribute types as `OID=#hex`), then rewritten by
//! `ssl.principal.mapping.rules` (`RULE:pattern/replacement/[LU]`, `DEFAULT`; the first rule
//! whose pattern matches the whole DN wins; no match at all is an error, as in Kafka).
//! Pure logic: no TLS, no files.

use regex::{Captures, Regex};
use x509_parser::asn1_rs::{Tag, ToDer};
use x509_parser::prelude::{AttributeTypeAndValue, FromDer, X509Certificate};

use crate::Principal;

/// A certificate or a mapping rule Strom cannot use.
#[derive(Debug, thiserror::Error)]
pub enum SslPrincipalError {
    #[error("invalid ssl_principal_mapping_rules at '{at}': {reason}")]
    InvalidRule { at: String, reason: String },
    #[error("the client certificate cannot be parsed")]
    Certificate,
    #[error("no ssl_principal_mapping_rules rule matches the certificate's subject")]
    NoRuleMatches,
}

/// One parsed rule.
#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        /// The pattern anchored at both ends (Java's `Matcher.matches()`).
        whole: Regex,
        /// The pattern as written, for `replaceAll`.
        pattern: Regex,
        replacement: String,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// Kafka's `SslPrincipalMapper`: DN in, short name out.
#[derive(Debug, Clone)]
pub struct SslPrincipalMapper {
    rules: Vec<Rule>,
}

impl Default for SslPrincipalMapper {
    /// Kafka's default, `DEFAULT`: the DN itself.
    fn default() -> Self {
        SslPrincipalMapper {
            rules: vec![Rule::Default],
        }
    }
}

impl SslPrincipalMapper {
    /// Parses Kafka's `ssl.principal.mapping.rules` value: rules separated by commas or
    /// newlines. Errors: [`SslPrincipalError::InvalidRule`] naming the rule.
    pub fn parse(rules: &str) -> Result<SslPrincipalMapper, SslPrincipalError> {
        let mut parsed = Vec::new();
        let mut rest = rules.trim_start();
        while !rest.is_empty() {
            let (rule, tail) = parse_rule(rest)?;
            parsed.push(rule);
            rest = tail.trim_start_matches([' ', '\t', '\r']);
            if let Some(after) = rest.strip_prefix([',', '\n']) {
                rest = after.trim_start();
            } else if !rest.is_empty() {
                return Err(invalid(rest, "expected ',' or a newline between rules"));
            }
        }
        if parsed.is_empty() {
            parsed.push(Rule::Default);
        }
        Ok(SslPrincipalMapper { rules: parsed })
    }

    /// The short name for `dn`. Errors: [`SslPrincipalError::NoRuleMatches`].
    pub fn map(&self, dn: &str) -> Result<String, SslPrincipalError> {
        for rule in &self.rules {
            match rule {
                Rule::Default => return Ok(dn.to_string()),
                Rule::Replace {
                    whole,
                    pattern,
                    replacement,
                    case,
                } => {
                    if !whole.is_match(dn) {
                        continue;
                    }
                    let groups = pattern.captures_len() - 1;
                    let out = pattern.replace_all(dn, |caps: &Captures<'_>| {
                        expand_java(replacement, caps, groups)
                    });
                    return Ok(match case {
                        Case::Keep => out.into_owned(),
                        Case::Lower => out.to_lowercase(),
                        Case::Upper => out.to_uppercase(),
                    });
                }
            }
        }
        Err(SslPrincipalError::NoRuleMatches)
    }

    /// The session principal for a verified client certificate (DER): `User:<mapped DN>`.
    /// Errors: the certificate does not parse, or no rule matches.
    pub fn principal(&self, cert_der: &[u8]) -> Result<Principal, SslPrincipalError> {
        Ok(Principal::user(self.map(&subject_dn(cert_der)?)?))
    }
}

fn invalid(at: &str, reason: &str) -> SslPrincipalError {
    SslPrincipalError::InvalidRule {
        at: at.chars().take(60).collect(),
        reason: reason.to_string(),
    }
}

/// Parses one rule at the start of `s`; returns it and the text after it.
fn parse_rule(s: &str) -> Result<(Rule, &str), SslPrincipalError> {
    if let Some(rest) = s.strip_prefix("DEFAULT") {
        return Ok((Rule::Default, rest));
    }
    let Some(body) = s.strip_prefix("RULE:") else {
        return Err(invalid(
            s,
            "a rule is DEFAULT or RULE:pattern/replacement/[LU]",
        ));
    };
    let (pattern, rest) = until_slash(body).ok_or_else(|| invalid(s, "missing '/'"))?;
    let (replacement, rest) = until_slash(rest).ok_or_else(|| invalid(s, "missing '/'"))?;
    let (case, rest) = match rest.as_bytes().first() {
        Some(b'L') => (Case::Lower, &rest[1..]),
        Some(b'U') => (Case::Upper, &rest[1..]),
        _ => (Case::Keep, rest),
    };
    let compile = |p: &str| Regex::new(p).map_err(|e| invalid(s, &e.to_string()));
    let rule = Rule::Replace {
        whole: compile(&format!("^(?:{pattern})$"))?,
        pattern: compile(pattern)?,
        replacement: replacement.to_string(),
        case,
    };
    Ok((rule, rest))
}

/// Text up to the first unescaped `/` (a `\x` pair is kept as written), and what follows it.
fn until_slash(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'/' => return Some((&s[..i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// Java's `Matcher.appendReplacement` syntax: `\x` is a literal `x`; `$n` takes the most
/// digits that still name a group (Kafka escapes a `$n` naming no group, so it stays literal).
fn expand_java(replacement: &str, caps: &Captures<'_>, groups: usize) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '$' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let mut number = 0usize;
                let mut digits = String::new();
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    let next = number * 10 + d as usize;
                    if !digits.is_empty() && next > groups {
                        break;
                    }
                    number = next;
                    digits.push(char::from(b'0' + d as u8));
                    chars.next();
                }
                if number > groups {
                    out.push('$');
                    out.push_str(&digits);
                } else {
                    out.push_str(caps.get(number).map_or("", |m| m.as_str()));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The certificate's subject as Java's `X500Principal.getName()` renders it (RFC 2253).
/// Errors: [`SslPrincipalError::Certificate`] if `cert_der` is not a certificate.
pub fn subject_dn(cert_der: &[u8]) -> Result<String, SslPrincipalError> {
    let (_, cert) =
        X509Certificate::from_der(cert_der).map_err(|_| SslPrincipalError::Certificate)?;
    let rdns: Vec<String> = cert
        .subject()
        .iter_rdn()
        .map(|rdn| rdn.iter().map(render_ava).collect::<Vec<_>>().join("+"))
        .collect();
    Ok(rdns.into_iter().rev().collect::<Vec<_>>().join(","))
}

/// Java's RFC 2253 keywords (`AVAKeyword`); other types print as dotted OIDs.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// One `type=value` as Java's `AVA.toRFC2253String`.
fn render_ava(ava: &AttributeTypeAndValue<'_>) -> String {
    let oid = ava.attr_type().to_id_string();
    let value = ava.attr_value();
    let text = match keyword(&oid) {
        Some(_) => string_value(value.tag(), value.data),
        None => None,
    };
    match (keyword(&oid), text) {
        (Some(key), Some(text)) => format!("{key}={}", escape_rfc2253(&text)),
        (key, _) => {
            let der = value.to_der_vec().unwrap_or_default();
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}=#{hex}", key.map_or(oid.as_str(), |k| k))
        }
    }
}

/// The string types Java prints as text (`isDerString`, non-canonical).
fn string_value(tag: Tag, data: &[u8]) -> Option<String> {
    match tag {
        Tag::PrintableString | Tag::Ia5String | Tag::Utf8String | Tag::GeneralString => {
            std::str::from_utf8(data).ok().map(str::to_string)
        }
        // T.61 as Java reads it: one byte per character.
        Tag::T61String => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Java's escaping: `,=+<>#;"\` anywhere, leading and trailing spaces, NUL as `\00`.
fn escape_rfc2253(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let lead = chars.iter().take_while(|c| **c == ' ').count();
    let trail = chars.len() - chars.iter().rev().take_while(|c| **c == ' ').count();
    let mut out = String::with_capacity(value.len() + 4);
    for (i, c) in chars.iter().enumerate() {
        match c {
            '\0' => out.push_str("\\00"),
            ',' | '=' | '+' | '<' | '>' | '#' | ';' | '"' | '\\' => {
                out.push('\\');
                out.push(*c);
            }
            ' ' if i < lead || i >= trail => out.push_str("\\ "),
            c => out.push(*c),
        }
    }
    out
}

#[cfg(test)]
#[path = "ssl_principal_tests.rs"]
mod tests;
