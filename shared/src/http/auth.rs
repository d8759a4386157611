//! API client credentials: `Authorization: Basic base64(clientKey:secret)`, checked against the
//! SHA-256 of a high-entropy secret. The authorizer Lambda and the local server both call
//! `authenticate`; handlers only ever see the resulting `AuthContext`.

use crate::domain::model::{AuthContext, OrgId, Role};
use crate::storage::keys;
use crate::storage::records::{to_item, ClientRecord};
use crate::storage::store::{Store, StoreError};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header")]
    Missing,
    #[error("Authorization is not Basic credentials")]
    Malformed,
    #[error("unknown client or wrong secret")]
    Rejected,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Splits a `Basic` header into client key and secret.
pub fn parse_basic(header: &str) -> Result<(String, String), AuthError> {
    let (scheme, rest) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Malformed);
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| AuthError::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| AuthError::Malformed)?;
    let (key, secret) = text.split_once(':').ok_or(AuthError::Malformed)?;
    if key.is_empty() || secret.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok((key.to_string(), secret.to_string()))
}

pub fn secret_digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so response time says nothing about how much matched.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Stands in for the stored digest when the client key is unknown, so an unknown key costs the
/// same hashing and comparison as a wrong secret: the SHA-256 of a random token drawn once per
/// container, whose preimage nobody ever holds.
static DUMMY_DIGEST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| secret_digest(&random_token(32)));

/// The one decision on a presented secret: always hashes it and always compares the full digest
/// (against the dummy when the key is unknown), so the work does not depend on whether the key
/// exists or how much of the secret matched.
pub fn check_secret(record: Option<&ClientRecord>, secret: &str) -> Result<AuthContext, AuthError> {
    let presented = secret_digest(secret);
    let expected = record.map_or(DUMMY_DIGEST.as_str(), |r| r.secret_sha256.as_str());
    let matches = same_digest(expected, &presented);
    match record {
        Some(r) if matches => Ok(AuthContext {
            org_id: r.org_id,
            role: r.role,
            client_key: r.client_key.clone(),
            display_name: r.display_name.clone(),
        }),
        _ => Err(AuthError::Rejected),
    }
}

/// A client key as issued (`ck_` + URL-safe base64): anything else cannot exist and is refused
/// before a key is built from it.
fn plausible_client_key(key: &str) -> bool {
    key.len() <= crate::domain::limits::MAX_CLIENT_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Verifies an `Authorization` header value and returns who is calling.
pub async fn authenticate(store: &Store, header: Option<&str>) -> Result<AuthContext, AuthError> {
    let header = header.filter(|h| !h.trim().is_empty()).ok_or(AuthError::Missing)?;
    let (key, secret) = parse_basic(header)?;
    let record = if plausible_client_key(&key) { store.client_record(&key).await? } else { None };
    check_secret(record.as_ref(), &secret)
}

/// Credentials as handed to a client once: the table keeps only the digest.
pub struct IssuedCredentials {
    pub client_key: String,
    pub secret: String,
}

impl IssuedCredentials {
    pub fn basic_header(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.client_key, self.secret)))
    }
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Creates an API client for `org` with a fresh 256-bit secret.
pub async fn create_client(store: &Store, org: OrgId, role: Role) -> Result<IssuedCredentials, StoreError> {
    create_named_client(store, org, role, None).await
}

/// Creates an API client for `org` with a fresh 256-bit secret and a display name (validated by
/// the caller: `limits::display_name`).
pub async fn create_named_client(
    store: &Store,
    org: OrgId,
    role: Role,
    display_name: Option<String>,
) -> Result<IssuedCredentials, StoreError> {
    loop {
        let client_key = format!("ck_{}", random_token(12));
        let secret = random_token(32);
        let k = keys::client(&client_key);
        let record = ClientRecord {
            pk: k.pk,
            sk: k.sk,
            entity: "CLIENT".into(),
            client_key: client_key.clone(),
            org_id: org,
            role,
            secret_sha256: secret_digest(&secret),
            created_at: chrono::Utc::now(),
            display_name: display_name.clone(),
        };
        if store.put_new(to_item(&record)?).await? {
            return Ok(IssuedCredentials { client_key, secret });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_and_rejects_other_schemes() {
        let h = format!("Basic {}", STANDARD.encode("ck_a:s3cret:with:colons"));
        assert_eq!(parse_basic(&h).unwrap(), ("ck_a".into(), "s3cret:with:colons".into()));
        assert!(matches!(parse_basic("Bearer abc"), Err(AuthError::Malformed)));
        assert!(matches!(parse_basic("Basic !!!"), Err(AuthError::Malformed)));
        assert!(matches!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))), Err(AuthError::Malformed)));
    }

    #[test]
    fn digest_is_hex_sha256() {
        assert_eq!(secret_digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(same_digest("ab", "ab"));
        assert!(!same_digest("ab", "ac"));
        assert!(!same_digest("ab", "abc"));
    }

    fn record(secret: &str) -> ClientRecord {
        ClientRecord {
            pk: "p".into(),
            sk: "s".into(),
            entity: "CLIENT".into(),
            client_key: "ck_x".into(),
            org_id: 7,
            role: Role::Api,
            secret_sha256: secret_digest(secret),
            created_at: chrono::Utc::now(),
            display_name: Some("Asha Rao".into()),
        }
    }

    #[test]
    fn unknown_keys_and_wrong_secrets_are_rejected_alike() {
        let who = AuthContext {
            org_id: 7,
            role: Role::Api,
            client_key: "ck_x".into(),
            display_name: Some("Asha Rao".into()),
        };
        assert_eq!(check_secret(Some(&record("right")), "right").unwrap(), who);
        assert!(matches!(check_secret(Some(&record("right")), "wrong"), Err(AuthError::Rejected)));
        assert!(matches!(check_secret(None, "right"), Err(AuthError::Rejected)));
        // The stand-in digest is a real SHA-256 (same length, so the comparison runs in full)
        // whose preimage nobody is given.
        assert_eq!(DUMMY_DIGEST.len(), secret_digest("x").len());
        assert!(matches!(check_secret(None, ""), Err(AuthError::Rejected)));
        assert!(
            plausible_client_key("ck_AbC-_09")
                && !plausible_client_key("ck_a#b")
                && !plausible_client_key(&"k".repeat(129))
        );
    }

    #[test]
    fn secrets_are_long_and_random() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
    }
}
