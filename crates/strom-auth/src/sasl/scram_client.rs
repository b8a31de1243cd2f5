//! A SCRAM client's final message (RFC 5802 §3), as client libraries compute it from the
//! server-first message: test support only, shared by the SCRAM server's unit tests and the
//! Kafka listener's SASL tests (`strom-kafka/tests/sasl.rs` includes this file by path), so
//! the client side of the exchange is written once. Uses only `crate::ScramMechanism`, which
//! both crates name at their root.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::ScramMechanism;

/// `c=biws,r=<nonce>,p=<proof>` for `password`, given the client-first-bare and the
/// server-first message (`r=…,s=…,i=…`). Panics on a malformed server-first: tests only.
pub fn client_final(m: ScramMechanism, first_bare: &str, server_first: &str, pw: &str) -> String {
    let mut fields = server_first.split(',');
    let nonce = &fields.next().expect("r")[2..];
    let salt = B64.decode(&fields.next().expect("s")[2..]).expect("salt");
    let iterations: u32 = fields.next().expect("i")[2..].parse().expect("i");
    let salted = m.salted_password(pw.as_bytes(), &salt, iterations);
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{first_bare},{server_first},{without_proof}");
    let client_key = m.hmac(&salted, b"Client Key");
    let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    format!("{without_proof},p={}", B64.encode(proof))
}
