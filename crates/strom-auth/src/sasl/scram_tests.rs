//! SCRAM server tests: RFC 7677's exchange byte for byte, a client computed here for the
//! rest (both mechanisms, escaping, wrong proofs, replays, unknown users).

use std::sync::Arc;

use super::*;
use crate::sasl::scram_client::client_final;
use crate::store::Store;

fn users() -> UserStore {
    UserStore::new(Arc::new(Store::in_memory()))
}

#[test]
fn rfc7677_exchange_gives_the_known_server_signature() {
    let users = users();
    let m = ScramMechanism::Sha256;
    let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
    let salted = m.salted_password(b"pencil", &salt, 4096);
    let cred = ScramCredential::from_salted_password(m, &salted, salt, 4096);
    users.upsert("user", m, cred).expect("upsert");
    let mut server = ScramServer::new(m);
    server.fixed_nonce = Some("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into());
    let first = server
        .step(&users, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        .expect("first");
    assert_eq!(
        first,
        Step::Continue(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                .to_vec()
        )
    );
    let fin = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let Step::Done(done) = server.step(&users, fin).expect("final") else {
        panic!("the exchange ends after the client final message");
    };
    assert_eq!(done.principal, Principal::user("user"));
    assert_eq!(
        done.challenge,
        b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()
    );
    // The same client-final again (a replay) is refused.
    assert!(server.step(&users, fin).is_err());
}

/// Runs a whole exchange; `Ok(principal name)` or the error message.
fn login(users: &UserStore, m: ScramMechanism, saslname: &str, pw: &str) -> Result<String, String> {
    let mut server = ScramServer::new(m);
    let bare = format!("n={saslname},r=clientnonce123");
    let Step::Continue(sf) = server
        .step(users, format!("n,,{bare}").as_bytes())
        .map_err(|e| e.message)?
    else {
        return Err("no server-first".into());
    };
    let sf = String::from_utf8(sf).expect("utf8");
    let fin = client_final(m, &bare, &sf, pw);
    match server.step(users, fin.as_bytes()).map_err(|e| e.message)? {
        Step::Done(d) => Ok(d.principal.name().to_string()),
        Step::Continue(_) => Err("not done".into()),
    }
}

#[test]
fn both_mechanisms_with_escaped_names_and_wrong_passwords() {
    let users = users();
    for m in ScramMechanism::ALL {
        users.set_password("a,b=c", m, "pw", 4096).expect("set");
        assert_eq!(login(&users, m, "a=2Cb=3Dc", "pw"), Ok("a,b=c".to_string()));
        assert_eq!(
            login(&users, m, "a=2Cb=3Dc", "wrong"),
            Err(INVALID_CREDENTIALS.to_string())
        );
        // An unknown user gets a server-first like anyone and the same failure at the end.
        assert_eq!(
            login(&users, m, "nobody", "pw"),
            Err(INVALID_CREDENTIALS.to_string())
        );
        assert!(login(&users, m, "a=2Xb", "pw")
            .unwrap_err()
            .contains("user name"));
    }
    // SCRAM-SHA-512 credentials do not log in with SCRAM-SHA-256 and vice versa.
    users
        .set_password("only512", ScramMechanism::Sha512, "pw", 4096)
        .expect("set");
    assert!(login(&users, ScramMechanism::Sha256, "only512", "pw").is_err());
}

#[test]
fn unknown_users_get_a_stable_salt() {
    let users = users();
    let first = |u: &str| {
        let mut s = ScramServer::new(ScramMechanism::Sha256);
        match s.step(&users, format!("n,,n={u},r=abc").as_bytes()) {
            Ok(Step::Continue(c)) => String::from_utf8(c).expect("utf8"),
            other => panic!("{other:?}"),
        }
    };
    let salt = |sf: String| sf.split(',').nth(1).map(str::to_string);
    assert_eq!(salt(first("ghost")), salt(first("ghost")));
    assert_ne!(salt(first("ghost")), salt(first("ghost2")));
}

#[test]
fn replayed_or_tampered_client_final_fails() {
    let users = users();
    let m = ScramMechanism::Sha256;
    users.set_password("alice", m, "pw", 4096).expect("set");
    let bare = "n=alice,r=fixedclientnonce";
    let mut first_server = ScramServer::new(m);
    let Ok(Step::Continue(sf)) = first_server.step(&users, format!("n,,{bare}").as_bytes()) else {
        panic!("server-first");
    };
    let fin = client_final(m, bare, &String::from_utf8(sf).expect("utf8"), "pw");
    assert!(first_server.step(&users, fin.as_bytes()).is_ok());
    // A second exchange with the same client nonce gets a new server nonce, so the captured
    // client-final does not match it.
    let mut second = ScramServer::new(m);
    assert!(second.step(&users, format!("n,,{bare}").as_bytes()).is_ok());
    let err = second.step(&users, fin.as_bytes()).unwrap_err();
    assert!(err.message.contains("nonce"), "{}", err.message);
    // A wrong channel binding, an authzid that is not the user, channel binding 'p'.
    let mut third = ScramServer::new(m);
    let Ok(Step::Continue(sf)) = third.step(&users, format!("n,,{bare}").as_bytes()) else {
        panic!("server-first");
    };
    let fin = client_final(m, bare, &String::from_utf8(sf).expect("utf8"), "pw");
    let tampered = fin.replacen("c=biws", "c=eSws", 1);
    assert!(third.step(&users, tampered.as_bytes()).is_err());
    let mut fourth = ScramServer::new(m);
    assert!(fourth.step(&users, b"n,a=bob,n=alice,r=x").is_err());
    let mut fifth = ScramServer::new(m);
    assert!(fifth.step(&users, b"p=tls-unique,,n=alice,r=x").is_err());
    let mut sixth = ScramServer::new(m);
    assert!(sixth.step(&users, b"n,a=alice,n=alice,r=x").is_ok());
    let mut token = ScramServer::new(m);
    assert!(token
        .step(&users, b"n,,n=alice,r=x,tokenauth=true")
        .is_err());
}

#[test]
fn names_escape_and_unescape_like_kafka() {
    assert_eq!(escape_sasl_name("a,b=c"), "a=2Cb=3Dc");
    assert_eq!(unescape_sasl_name("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
    assert_eq!(unescape_sasl_name("plain").as_deref(), Some("plain"));
    for bad in ["a=", "a=2", "a=41", "a,b"] {
        assert_eq!(unescape_sasl_name(bad), None, "{bad}");
    }
}

#[test]
fn librdkafka_2_0_doubled_client_nonce_is_accepted_as_by_kafka() {
    let users = users();
    let m = ScramMechanism::Sha256;
    users.set_password("alice", m, "pw", 4096).expect("set");
    let bare = "n=alice,r=cnonce";
    let mut server = ScramServer::new(m);
    let Ok(Step::Continue(sf)) = server.step(&users, format!("n,,{bare}").as_bytes()) else {
        panic!("server-first");
    };
    let sf = String::from_utf8(sf).expect("utf8");
    // librdkafka 2.0.2 writes r=<client nonce><full nonce> and proves over what it wrote.
    let nonce = format!("cnonce{}", &sf.split(',').next().expect("r")[2..]);
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{bare},{sf},{without_proof}");
    let cred = users.credential("alice", m).expect("cred");
    let salted = m.salted_password(b"pw", &cred.salt, cred.iterations);
    let client_key = m.hmac(&salted, b"Client Key");
    let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let fin = format!("{without_proof},p={}", B64.encode(proof));
    assert!(matches!(
        server.step(&users, fin.as_bytes()),
        Ok(Step::Done(_))
    ));
}
