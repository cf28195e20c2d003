//! Signed download URLs: `/api/files/{key}?expires=…&sig=…`, where `sig` is an HMAC-SHA256 of
//! the storage key and the expiry, compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatgate_core::Timestamp;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Everything but RFC 3986's unreserved characters is escaped in a key segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The download path of a key: each segment percent-encoded, `/` kept between them.
pub fn download_path(storage_key: &str) -> String {
    let mut path = String::from("/api/files");
    for segment in storage_key.split('/') {
        path.push('/');
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
    path
}

/// The key to sign download URLs with, derived from the token secret: it survives restarts
/// with it, and a leaked download signature reveals nothing about the token key.
pub fn derive_signing_key(token_secret: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(token_secret).expect("HMAC takes keys of any length");
    mac.update(b"chatgate file download URLs v1");
    mac.finalize().into_bytes().to_vec()
}

/// Why a signed URL was refused; every case is answered 400 `Invalid Signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Expired,
    Mismatch,
}

impl SignatureError {
    pub fn describe(self) -> &'static str {
        match self {
            SignatureError::Missing => "This file needs a signed URL: `expires` and `sig` are required",
            SignatureError::Malformed => "`expires` must be an RFC 3339 time and `sig` the signature",
            SignatureError::Expired => "The signed URL has expired; fetch the message again for a fresh one",
            SignatureError::Mismatch => "The signature does not match this file and expiry",
        }
    }
}

pub struct UrlSigner {
    key: Vec<u8>,
    /// How long a URL stays valid, at least.
    ttl_ms: i64,
    /// Expiries are rounded up to a multiple of this, so a URL stays the same for a while and
    /// clients can cache what it points at.
    step_ms: i64,
}

impl UrlSigner {
    pub fn new(key: Vec<u8>, ttl_ms: i64) -> UrlSigner {
        let ttl_ms = ttl_ms.max(1_000);
        UrlSigner { key, ttl_ms, step_ms: (ttl_ms / 4).clamp(1_000, 15 * 60 * 1_000) }
    }

    /// A relative URL that fetches `storage_key` until a little after `now + ttl`.
    pub fn signed_url(&self, storage_key: &str, now: Timestamp) -> String {
        let earliest = now.unix_ms().saturating_add(self.ttl_ms);
        let rounded = earliest.div_euclid(self.step_ms).saturating_add(1).saturating_mul(self.step_ms);
        let expires = Timestamp::from_unix_ms(rounded).to_rfc3339();
        let sig = self.signature(storage_key, &expires);
        format!("{}?expires={expires}&sig={sig}", download_path(storage_key))
    }

    fn mac(&self, storage_key: &str, expires: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(storage_key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.as_bytes());
        mac
    }

    fn signature(&self, storage_key: &str, expires: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(storage_key, expires).finalize().into_bytes())
    }

    /// Checks a URL's `expires` and `sig` for `storage_key`: the signature in constant time,
    /// then the expiry.
    pub fn verify(
        &self,
        storage_key: &str,
        expires: Option<&str>,
        sig: Option<&str>,
        now: Timestamp,
    ) -> Result<(), SignatureError> {
        let (Some(expires), Some(sig)) = (expires, sig) else {
            return Err(SignatureError::Missing);
        };
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| SignatureError::Malformed)?;
        self.mac(storage_key, expires).verify_slice(&sig).map_err(|_| SignatureError::Mismatch)?;
        let expires = Timestamp::parse_rfc3339(expires).ok_or(SignatureError::Malformed)?;
        if now >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> (String, String) {
        let (_, q) = url.split_once('?').unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        (pairs[0].1.clone(), pairs[1].1.clone())
    }

    #[test]
    fn paths_encode_each_segment_and_keep_slashes() {
        assert_eq!(download_path("01H/photo 1#.jpg"), "/api/files/01H/photo%201%23.jpg");
        assert_eq!(download_path("a/b/c~d.e_f-g"), "/api/files/a/b/c~d.e_f-g");
        assert_eq!(download_path("01H/ảnh.png"), "/api/files/01H/%E1%BA%A3nh.png");
    }

    #[test]
    fn a_signed_url_verifies_until_it_expires() {
        let signer = UrlSigner::new(b"k".to_vec(), 3_600_000);
        let now = Timestamp::from_unix_ms(1_700_000_000_000);
        let url = signer.signed_url("01H/a b.png", now);
        assert!(url.starts_with("/api/files/01H/a%20b.png?expires="));
        let (expires, sig) = query(&url);
        let at = Timestamp::parse_rfc3339(&expires).unwrap();
        assert!(at.ms_since(now) >= 3_600_000 && at.ms_since(now) <= 3_600_000 + 15 * 60_000);
        assert_eq!(signer.verify("01H/a b.png", Some(&expires), Some(&sig), now), Ok(()));
        assert_eq!(
            signer.verify("01H/a b.png", Some(&expires), Some(&sig), at),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn tampering_with_anything_is_refused() {
        let signer = UrlSigner::new(b"k".to_vec(), 60_000);
        let now = Timestamp::from_unix_ms(1_700_000_000_000);
        let (expires, sig) = query(&signer.signed_url("K/a.png", now));
        let later = Timestamp::from_unix_ms(1_800_000_000_000).to_rfc3339();
        assert_eq!(signer.verify("K/b.png", Some(&expires), Some(&sig), now), Err(SignatureError::Mismatch));
        assert_eq!(signer.verify("K/a.png", Some(&later), Some(&sig), now), Err(SignatureError::Mismatch));
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            signer.verify("K/a.png", Some(&expires), Some(&flipped), now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(signer.verify("K/a.png", None, Some(&sig), now), Err(SignatureError::Missing));
        assert_eq!(signer.verify("K/a.png", Some(&expires), Some("%%"), now), Err(SignatureError::Malformed));
        let other = UrlSigner::new(b"other".to_vec(), 60_000);
        assert_eq!(other.verify("K/a.png", Some(&expires), Some(&sig), now), Err(SignatureError::Mismatch));
    }

    #[test]
    fn urls_stay_the_same_within_a_step() {
        let signer = UrlSigner::new(b"k".to_vec(), 3_600_000);
        let now = Timestamp::from_unix_ms(1_700_000_000_000);
        assert_eq!(signer.signed_url("K/a", now), signer.signed_url("K/a", now.plus_ms(1_000)));
    }
}
