//! Signing as the Standard Webhooks specification does it (docs/webhooks.md, "Verifying
//! a delivery"): `webhook-signature: v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
//! where the key is the bytes the secret `whsec_<base64>` encodes. During a rotation the
//! header carries one signature per valid secret, separated by spaces.

use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a secret as shown to admins.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing key as the secret admins are given: `whsec_` and the key in base64.
pub fn secret_text(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(key))
}

/// `v1,<base64 signature>` of one message under one key.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(&mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: the message signed under each key, space-separated.
pub fn signature_header<K: AsRef<[u8]>>(keys: &[K], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| sign(key.as_ref(), id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (its reference libraries'
    /// test vector).
    #[test]
    fn signs_as_the_standard_webhooks_example() {
        let key = BASE64.decode(b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(secret_text(&key), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let both = signature_header(&[key.clone(), vec![1, 2, 3]], "m", 1, b"{}");
        assert_eq!(both.split(' ').count(), 2);
        assert!(both.starts_with(&sign(&key, "m", 1, b"{}")));
    }
}
