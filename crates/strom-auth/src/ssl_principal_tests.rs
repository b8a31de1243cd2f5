//! Kafka's `SslPrincipalMapperTest` examples, and DNs of real (rcgen) certificates rendered
//! as Java's `X500Principal.getName()` renders them.

use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};

use super::*;

const KAFKA_DOC_RULES: &str = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,\
    RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\
    RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,\
    DEFAULT";

fn map(rules: &str, dn: &str) -> String {
    SslPrincipalMapper::parse(rules)
        .and_then(|m| m.map(dn))
        .unwrap_or_else(|e| panic!("{rules} on {dn}: {e}"))
}

#[test]
fn kafkas_documented_rules_map_as_kafka_does() {
    let cases = [
        ("CN=Duke,OU=ServiceUsers,O=Org,C=US", "Duke"),
        ("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US", "duke@sme"),
        ("cn=duke,ou=sme,dc=mycp,dc=com", "duke"),
        ("cN=duke,OU=JavaSoft,O=Sun Microsystems", "duke"),
        ("cN=duke,OU=JavaSoft,O=Sun Microsystems,C=US", "duke"),
        (
            "OU=JavaSoft,O=Sun Microsystems,C=US",
            "OU=JavaSoft,O=Sun Microsystems,C=US",
        ),
    ];
    for (dn, expected) in cases {
        assert_eq!(map(KAFKA_DOC_RULES, dn), expected, "{dn}");
    }
}

#[test]
fn case_flags_and_newline_separators() {
    let upper = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/U";
    assert_eq!(map(upper, "CN=Duke,OU=ServiceUsers,O=Org,C=US"), "DUKE");
    let two_lines = "RULE:^CN=(.*?),OU=svc$/$1/\n  DEFAULT";
    assert_eq!(map(two_lines, "CN=alice,OU=svc"), "alice");
    assert_eq!(map(two_lines, "CN=bob,OU=ops"), "CN=bob,OU=ops");
}

#[test]
fn escaped_commas_inside_a_pattern() {
    // Kafka's testCommaWithWhitespace.
    let rules = r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT";
    assert_eq!(
        map(rules, r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz"),
        r"Tkac\, Adam"
    );
}

#[test]
fn replacement_follows_javas_syntax() {
    // `$12` with one group is `$1` then "2"; `$9` names no group and stays literal.
    assert_eq!(map("RULE:^CN=(.*)$/$12$9/", "CN=x"), "x2$9");
    assert_eq!(map(r"RULE:^CN=(.*)$/\$1-$0/", "CN=x"), "$1-CN=x");
}

#[test]
fn kafkas_invalid_rules_are_refused() {
    for rules in [
        "default",
        "DEFAUL",
        "DEFAULT/L",
        "DEFAULT/U",
        "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
        "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
        "RULE:^CN=(unclosed/$1/",
    ] {
        assert!(SslPrincipalMapper::parse(rules).is_err(), "{rules}");
    }
}

#[test]
fn no_matching_rule_is_an_error_and_empty_rules_are_default() {
    let mapper = SslPrincipalMapper::parse("RULE:^CN=(.*),OU=svc$/$1/").unwrap();
    assert!(matches!(
        mapper.map("CN=bob"),
        Err(SslPrincipalError::NoRuleMatches)
    ));
    assert_eq!(map("", "CN=bob,O=x"), "CN=bob,O=x");
}

fn cert_with(dn: DistinguishedName) -> Vec<u8> {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name = dn;
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn subject_dn_is_most_specific_first_like_x500_principal() {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, "Org");
    dn.push(DnType::OrganizationalUnitName, "svc");
    dn.push(DnType::CommonName, "alice");
    let der = cert_with(dn);
    assert_eq!(subject_dn(&der).unwrap(), "CN=alice,OU=svc,O=Org,C=US");
    let mapper = SslPrincipalMapper::parse("RULE:^CN=(.*?),OU=svc.*$/$1/L,DEFAULT").unwrap();
    assert_eq!(mapper.principal(&der).unwrap().to_string(), "User:alice");
}

#[test]
fn subject_dn_escapes_and_hex_encodes_as_java_does() {
    let mut dn = DistinguishedName::new();
    let email = DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]);
    dn.push(
        email,
        DnValue::Ia5String("a@b".try_into().expect("ASCII is IA5")),
    );
    dn.push(DnType::CommonName, " a,b+c=#d ");
    let der = cert_with(dn);
    assert_eq!(
        subject_dn(&der).unwrap(),
        r"CN=\ a\,b\+c\=\#d\ ,1.2.840.113549.1.9.1=#1603614062"
    );
    assert!(matches!(
        subject_dn(b"not a certificate"),
        Err(SslPrincipalError::Certificate)
    ));
}
