//! Secrets that grant access: API tokens (admin, organiser, steward), manage links and the
//! organiser board's sessions. Only a SHA-256 of each secret is stored. API tokens and
//! board sessions are 256 random bits; manage tokens are an HMAC of the registration id
//! under a key the database or the settings hold, so that emails sent later can carry
//! the link. Either way guessing is hopeless. The life of a token (expiry, list,
//! revocation) is in [`super::tokens`], board sessions in [`super::board_sessions`].

use chrono::NaiveDateTime;
use diesel::Connection;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::DomainError;
use super::tokens::{self, NewToken};
use crate::db::DbConnection;
use crate::store::service_keys;
use crate::store::tokens::{self as stored_tokens, TokenRow};

/// The key manage-link tokens are derived from: `token = hex(HMAC-SHA256(key, id))`.
/// Deriving (rather than storing) the token lets every later email carry the link while
/// the database keeps only the token's hash.
#[derive(Clone)]
pub struct ManageKey(Vec<u8>);

impl std::fmt::Debug for ManageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManageKey(..)")
    }
}

impl ManageKey {
    pub fn new(secret: &str) -> Self {
        Self(secret.as_bytes().to_vec())
    }

    /// The manage token of a registration: 256 bits no one can compute without the key.
    pub fn token_for(&self, registration_id: &str) -> String {
        hex::encode(
            self.mac(MANAGE_LINK_LABEL, registration_id)
                .finalize()
                .into_bytes(),
        )
    }

    /// The check-in code of a registration: 100 bits of an HMAC under the same key (with
    /// its own label), as 20 characters of RFC 4648 base32 (`A`–`Z`, `2`–`7`). Those are
    /// all in the QR code's alphanumeric mode, so the code fits a version 1 symbol (21 × 21
    /// modules, the least dense there is); deriving it lets every email show it again while
    /// the database keeps only its hash ([`hash_secret`]).
    pub fn checkin_code_for(&self, registration_id: &str) -> String {
        let mac = self
            .mac(CHECKIN_CODE_LABEL, registration_id)
            .finalize()
            .into_bytes();
        let mut code = data_encoding::BASE32_NOPAD.encode(&mac[..13]);
        code.truncate(CHECKIN_CODE_LENGTH);
        code
    }

    /// The signing key of a webhook endpoint: an HMAC of its id and a salt under the same
    /// key (with its own label). Shown once as `whsec_…` when made, derived again by the
    /// delivery worker for every delivery, never stored; a rotation draws a new salt.
    pub fn webhook_key(&self, endpoint_id: &str, salt: &str) -> Vec<u8> {
        self.mac(WEBHOOK_KEY_LABEL, &format!("{endpoint_id}\0{salt}"))
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// An HMAC of `data` under the key, for one purpose: the label keeps a signature made
    /// for one use from being valid for another.
    fn mac(&self, label: &[u8], data: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(label);
        mac.update(data.as_bytes());
        mac
    }
}

/// The private link of a registration: `{public_url}/manage/{token}` (the one place that
/// spells it; pages, API answers and emails all use it).
pub fn manage_url(public_url: &str, token: &str) -> String {
    format!("{}/manage/{token}", public_url.trim_end_matches('/'))
}

const MANAGE_LINK_LABEL: &[u8] = b"rallypoint manage link\0";
const CHECKIN_CODE_LABEL: &[u8] = b"rallypoint check-in code\0";
const WEBHOOK_KEY_LABEL: &[u8] = b"rallypoint webhook key\0";

/// Characters of a check-in code (5 bits each: 100 bits).
pub const CHECKIN_CODE_LENGTH: usize = 20;

/// A check-in code as people may type or a scanner may read it (any case, spaces or
/// dashes between groups) in its one stored form, or `None` when it cannot be a code.
pub fn normalise_checkin_code(text: &str) -> Option<String> {
    let code: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CHECKIN_CODE_LENGTH && code.bytes().all(|b| matches!(b, b'A'..=b'Z' | b'2'..=b'7')))
        .then_some(code)
}

const MANAGE_KEY: &str = "manage_link";

/// The configured key, or the one kept in the database (created on first use, so every
/// instance sharing the database derives the same links).
pub fn load_manage_key(
    conn: &mut DbConnection,
    configured: &str,
    now: NaiveDateTime,
) -> Result<ManageKey, DomainError> {
    if !configured.is_empty() {
        return Ok(ManageKey::new(configured));
    }
    if let Some(secret) = service_keys::find(conn, MANAGE_KEY)? {
        return Ok(ManageKey::new(&secret));
    }
    let secret = new_secret("");
    // Another instance may create it at the same moment: then its key wins.
    match conn.transaction(|conn| service_keys::insert(conn, MANAGE_KEY, &secret, now)) {
        Ok(()) => Ok(ManageKey::new(&secret)),
        Err(_) => service_keys::find(conn, MANAGE_KEY)?
            .map(|secret| ManageKey::new(&secret))
            .ok_or(DomainError::NotFound("manage key")),
    }
}

/// Who is calling, from a valid API token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub role: Role,
}

impl Principal {
    /// The principal of a token row; `None` for a role this build does not know (the
    /// table's CHECK allows none).
    pub(super) fn from_row(row: TokenRow) -> Option<Self> {
        Some(Self {
            role: Role::parse(&row.role)?,
            token_id: row.id,
            name: row.name,
        })
    }
}

/// Creates a token that does not expire and returns its secret: what set-up code (the
/// test harness, benches) needs. It is [`tokens::issue`], audited as made by `setup`.
pub fn create_api_token(
    conn: &mut DbConnection,
    role: Role,
    name: &str,
    now: NaiveDateTime,
) -> Result<String, DomainError> {
    let new = NewToken::new(role, name, None)?;
    Ok(tokens::issue(conn, "setup", &new, now)?.secret)
}

/// The principal behind a bearer secret, if its token is live (neither revoked nor
/// expired) at `now`. The lookup is by SHA-256 of the secret, so timing reveals nothing
/// about the stored value.
pub fn authenticate(
    conn: &mut DbConnection,
    secret: &str,
    now: NaiveDateTime,
) -> Result<Option<Principal>, DomainError> {
    if secret.len() > 200 {
        return Ok(None);
    }
    Ok(stored_tokens::find_live_by_hash(conn, &hash_secret(secret), now)?.and_then(Principal::from_row))
}

/// What a token may do. The order is the order of power: each role includes the ones
/// before it (a steward's token is refused wherever an organiser is required).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Scans check-in codes and reads the check-in lists; nothing else.
    Steward,
    Organiser,
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Steward, Self::Organiser, Self::Admin];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Organiser => "organiser",
            Self::Steward => "steward",
        }
    }

    /// Admins may do everything organisers do, and organisers everything stewards do.
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }
}

/// A fresh secret with its prefix (`rpa_` for API tokens, none for manage links):
/// 32 random bytes, hex-encoded so it survives URLs and shells unescaped.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A manage-link token has the shape `new_secret("")` gives; anything else is not
/// looked up at all.
pub fn is_well_formed_manage_token(token: &str) -> bool {
    is_bare_secret(token)
}

/// The shape of `new_secret("")`: 64 hex digits.
pub(super) fn is_bare_secret(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_only_their_hash_is_kept() {
        let a = new_secret("rpa_");
        let b = new_secret("rpa_");
        assert_ne!(a, b);
        assert!(a.starts_with("rpa_") && a.len() == 68);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert!(is_well_formed_manage_token(&new_secret("")));
        let key = ManageKey::new("k");
        assert_eq!(key.token_for("a"), key.token_for("a"));
        assert_ne!(key.token_for("a"), key.token_for("b"));
        assert_ne!(ManageKey::new("other").token_for("a"), key.token_for("a"));
        assert!(is_well_formed_manage_token(&key.token_for("a")));
        assert!(!is_well_formed_manage_token("../etc"));
        let hook = key.webhook_key("endpoint", "salt");
        assert_eq!(hook.len(), 32);
        assert_eq!(hook, key.webhook_key("endpoint", "salt"));
        assert_ne!(hook, key.webhook_key("endpoint", "other salt"));
        assert_ne!(hook, key.webhook_key("other", "salt"));
        assert_ne!(hex::encode(&hook), key.token_for("endpoint\0salt"));
    }

    #[test]
    fn checkin_codes_are_short_derived_and_apart_from_manage_tokens() {
        let key = ManageKey::new("k");
        let code = key.checkin_code_for("a");
        assert_eq!(code.len(), CHECKIN_CODE_LENGTH);
        assert_eq!(code, key.checkin_code_for("a"));
        assert_ne!(code, key.checkin_code_for("b"));
        assert_ne!(code, ManageKey::new("other").checkin_code_for("a"));
        assert!(!key.token_for("a").to_ascii_uppercase().contains(&code));
        assert_eq!(normalise_checkin_code(&code), Some(code.clone()));
        let typed = format!(
            "{} {}-{}",
            &code[..4],
            &code[4..8].to_ascii_lowercase(),
            &code[8..]
        );
        assert_eq!(normalise_checkin_code(&typed), Some(code.clone()));
        assert_eq!(normalise_checkin_code(&code[1..]), None);
        assert_eq!(normalise_checkin_code("0000000000000000000O"), None);
    }

    #[test]
    fn admins_include_organisers() {
        assert!(Role::Admin.includes(Role::Organiser));
        assert!(!Role::Organiser.includes(Role::Admin));
        assert!(Role::Organiser.includes(Role::Steward));
        assert!(Role::Admin.includes(Role::Steward));
        assert!(!Role::Steward.includes(Role::Organiser));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
