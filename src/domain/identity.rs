//! Identity data per site visit (docs/identity-data.md, DESIGN rule 12): the fields a
//! visit may require, and their sealing at rest. The plaintext is the JSON of the fields,
//! sealed with XChaCha20-Poly1305 under a key from the settings (never the database), with
//! a random 24-byte nonce and the registration and visit ids as associated data, so a row
//! moved to another person or visit no longer opens. Nothing here prints the values:
//! [`IdentityData`] and the keys have a `Debug` that hides them.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The identity fields a visit may require (`identity = [...]` in the event file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityField {
    Nationality,
    DateOfBirth,
    /// The document's type (`passport`, `id_card`, `driving_licence`) and number.
    IdDocument,
    LicencePlate,
}

impl IdentityField {
    pub const ALL: [IdentityField; 4] = [
        IdentityField::Nationality,
        IdentityField::DateOfBirth,
        IdentityField::IdDocument,
        IdentityField::LicencePlate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityField::Nationality => "nationality",
            IdentityField::DateOfBirth => "date_of_birth",
            IdentityField::IdDocument => "id_document",
            IdentityField::LicencePlate => "licence_plate",
        }
    }

    pub fn parse(name: &str) -> Option<IdentityField> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// A visit's required fields from names (the event file, the stored JSON): sorted,
/// without repeats; an unknown name is refused with the list of known ones.
pub fn parse_required(names: &[String]) -> Result<Vec<IdentityField>, String> {
    let mut fields = Vec::with_capacity(names.len());
    for name in names {
        match IdentityField::parse(name) {
            Some(field) => fields.push(field),
            None => {
                return Err(format!(
                    "unknown identity field {name:?}; known: {}",
                    IdentityField::ALL.map(IdentityField::as_str).join(", ")
                ))
            }
        }
    }
    fields.sort();
    fields.dedup();
    Ok(fields)
}

/// The stored form of a visit's required fields (`site_visits.identity`).
pub fn required_to_json(fields: &[IdentityField]) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "[]".into())
}

/// The stored form read back; a value this version does not know reads as no requirement
/// for that field rather than failing the whole visit.
pub fn required_from_json(json: &str) -> Vec<IdentityField> {
    let names: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    let mut fields: Vec<IdentityField> = names.iter().filter_map(|n| IdentityField::parse(n)).collect();
    fields.sort();
    fields.dedup();
    fields
}

/// One person's identity data for one visit, as sealed. Every field is optional here:
/// which ones a visit needs is checked against its requirements.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<chrono::NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_document_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_document_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_plate: Option<String>,
}

impl std::fmt::Debug for IdentityData {
    /// Never the values (they must not reach a log): only which fields are filled.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityData")
            .field("filled", &self.filled())
            .finish()
    }
}

impl IdentityData {
    /// The fields given (a document counts when both its type and number are).
    pub fn filled(&self) -> Vec<IdentityField> {
        let mut fields = Vec::new();
        if self.nationality.is_some() {
            fields.push(IdentityField::Nationality);
        }
        if self.date_of_birth.is_some() {
            fields.push(IdentityField::DateOfBirth);
        }
        if self.id_document_type.is_some() && self.id_document_number.is_some() {
            fields.push(IdentityField::IdDocument);
        }
        if self.licence_plate.is_some() {
            fields.push(IdentityField::LicencePlate);
        }
        fields
    }

    /// Whether every field of `required` is given.
    pub fn is_complete(&self, required: &[IdentityField]) -> bool {
        let filled = self.filled();
        required.iter().all(|f| filled.contains(f))
    }
}

/// A sealing key and its id (the id is stored with each row, the key never is).
#[derive(Clone)]
struct IdentityKey {
    id: String,
    key: [u8; 32],
}

/// The keys of `security.identity_keys`: the first seals, all open.
#[derive(Clone, Default)]
pub struct IdentityKeys(Vec<IdentityKey>);

impl std::fmt::Debug for IdentityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.0.iter().map(|k| k.id.as_str()).collect();
        write!(f, "IdentityKeys({ids:?})")
    }
}

/// A sealed value as stored: which key, the nonce and the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("no identity key is configured (security.identity_keys)")]
    NoKey,
    #[error("the identity key {0:?} is no longer configured")]
    UnknownKey(String),
    #[error("the identity data does not open (wrong key, or not this person's and visit's)")]
    Corrupt,
}

impl IdentityKeys {
    /// Parses `id:hexkey[,id:hexkey…]` (blanks around entries allowed; empty: no key).
    /// The message never repeats a key.
    pub fn parse(setting: &str) -> Result<IdentityKeys, String> {
        let mut keys: Vec<IdentityKey> = Vec::new();
        for (n, entry) in setting
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let Some((id, hex_key)) = entry.split_once(':') else {
                return Err(format!("entry {} is not `id:hexkey`", n + 1));
            };
            let id = id.trim();
            if id.is_empty()
                || id.len() > 32
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "entry {}: the id must be 1-32 letters, digits, `-` or `_`",
                    n + 1
                ));
            }
            let bytes = hex::decode(hex_key.trim())
                .map_err(|_| format!("key {id:?} is not hex (64 hex digits: openssl rand -hex 32)"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("key {id:?} must be 32 bytes (64 hex digits: openssl rand -hex 32)"))?;
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("the id {id:?} appears twice"));
            }
            keys.push(IdentityKey {
                id: id.to_string(),
                key,
            });
        }
        Ok(IdentityKeys(keys))
    }

    /// Whether a key is configured (without one, identity data is not collected).
    pub fn is_configured(&self) -> bool {
        !self.0.is_empty()
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> Option<&str> {
        self.0.first().map(|k| k.id.as_str())
    }

    fn associated_data(registration_id: &str, site_visit_id: &str) -> Vec<u8> {
        // Lengths first, so ("ab", "c") and ("a", "bc") differ.
        format!(
            "rallypoint identity v1\n{}:{registration_id}\n{}:{site_visit_id}",
            registration_id.len(),
            site_visit_id.len()
        )
        .into_bytes()
    }

    /// Seals `data` for this person and visit with the first key and a fresh nonce.
    pub fn seal(
        &self,
        registration_id: &str,
        site_visit_id: &str,
        data: &IdentityData,
    ) -> Result<Sealed, SealError> {
        let key = self.0.first().ok_or(SealError::NoKey)?;
        let plaintext = serde_json::to_vec(data).map_err(|_| SealError::Corrupt)?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&key.key).into());
        let aad = Self::associated_data(registration_id, site_visit_id);
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Opens what [`Self::seal`] sealed for the same person and visit.
    pub fn open(
        &self,
        registration_id: &str,
        site_visit_id: &str,
        sealed: &Sealed,
    ) -> Result<IdentityData, SealError> {
        let key = self
            .0
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.nonce.len() != 24 {
            return Err(SealError::Corrupt);
        }
        let cipher = XChaCha20Poly1305::new((&key.key).into());
        let aad = Self::associated_data(registration_id, site_visit_id);
        let plaintext = cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        serde_json::from_slice(&plaintext).map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const KEY_B: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    fn data() -> IdentityData {
        IdentityData {
            nationality: Some("FR".into()),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 5, 17),
            id_document_type: Some("passport".into()),
            id_document_number: Some("XK4471920".into()),
            licence_plate: None,
        }
    }

    #[test]
    fn sealed_data_opens_only_for_its_person_and_visit() {
        let keys = IdentityKeys::parse(&format!("a:{KEY_A}")).unwrap();
        let sealed = keys.seal("reg-1", "visit-1", &data()).unwrap();
        assert_eq!(sealed.key_id, "a");
        assert_eq!(sealed.nonce.len(), 24);
        let clear = serde_json::to_vec(&data()).unwrap();
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"XK4471920"));
        assert_ne!(sealed.ciphertext, clear);
        assert_eq!(keys.open("reg-1", "visit-1", &sealed).unwrap(), data());
        assert_eq!(keys.open("reg-2", "visit-1", &sealed), Err(SealError::Corrupt));
        assert_eq!(keys.open("reg-1", "visit-2", &sealed), Err(SealError::Corrupt));
        // A fresh nonce each time.
        assert_ne!(
            keys.seal("reg-1", "visit-1", &data()).unwrap().nonce,
            sealed.nonce
        );
    }

    #[test]
    fn rotation_seals_with_the_first_key_and_opens_with_any() {
        let old = IdentityKeys::parse(&format!("old:{KEY_A}")).unwrap();
        let sealed_old = old.seal("r", "v", &data()).unwrap();
        let rotated = IdentityKeys::parse(&format!("new:{KEY_B}, old:{KEY_A}")).unwrap();
        assert_eq!(rotated.current_id(), Some("new"));
        assert_eq!(rotated.open("r", "v", &sealed_old).unwrap(), data());
        assert_eq!(rotated.seal("r", "v", &data()).unwrap().key_id, "new");
        let only_new = IdentityKeys::parse(&format!("new:{KEY_B}")).unwrap();
        assert_eq!(
            only_new.open("r", "v", &sealed_old),
            Err(SealError::UnknownKey("old".into()))
        );
        assert_eq!(
            IdentityKeys::default().seal("r", "v", &data()),
            Err(SealError::NoKey)
        );
    }

    #[test]
    fn bad_key_settings_are_refused_without_echoing_the_key() {
        assert!(!IdentityKeys::parse("").unwrap().is_configured());
        for bad in [
            "nocolon",
            "a:zz",
            "a:0101",
            ":0101010101010101010101010101010101010101010101010101010101010101",
        ] {
            let e = IdentityKeys::parse(bad).unwrap_err();
            assert!(!e.contains("0101"), "{e}");
        }
        let twice = format!("a:{KEY_A},a:{KEY_B}");
        assert!(IdentityKeys::parse(&twice).unwrap_err().contains("twice"));
        let keys = IdentityKeys::parse(&format!("a:{KEY_A}")).unwrap();
        assert!(!format!("{keys:?}").contains("0101"));
    }

    #[test]
    fn debug_never_shows_the_values_and_requirements_parse() {
        let shown = format!("{:?}", data());
        assert!(!shown.contains("XK4471920") && !shown.contains("FR"), "{shown}");
        let required = parse_required(&["licence_plate".into(), "nationality".into()]).unwrap();
        assert_eq!(
            required,
            vec![IdentityField::Nationality, IdentityField::LicencePlate]
        );
        assert!(parse_required(&["shoe_size".into()]).is_err());
        assert_eq!(required_from_json(&required_to_json(&required)), required);
        assert!(!data().is_complete(&required));
        assert!(data().is_complete(&[IdentityField::IdDocument, IdentityField::DateOfBirth]));
    }

    #[test]
    fn a_visit_reads_its_requirement_and_refuses_unknown_fields() {
        use crate::domain::event::NewSiteVisit;
        let body = |identity: serde_json::Value| {
            let value = serde_json::json!({
                "slug": "plant", "name": "Steel plant", "capacity": 20,
                "starts_at": "2030-05-01T09:00:00Z", "ends_at": "2030-05-01T12:00:00Z",
                "identity": identity,
            });
            NewSiteVisit::parse(value.as_object().unwrap().clone())
        };
        let visit = body(serde_json::json!(["id_document", "nationality"])).unwrap();
        assert_eq!(
            visit.identity,
            vec![IdentityField::Nationality, IdentityField::IdDocument]
        );
        let stored = visit.details(0, chrono::NaiveDateTime::default()).identity;
        assert_eq!(stored, r#"["nationality","id_document"]"#);
        let err = body(serde_json::json!(["shoe_size"])).unwrap_err();
        assert!(format!("{err:?}").contains("identity"), "{err:?}");
    }
}
