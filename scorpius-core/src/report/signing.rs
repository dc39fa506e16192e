//! Detached report signatures: `REPORT.sig` next to a report, leaving the report's bytes
//! untouched (a signed SARIF file is still plain SARIF). The signature covers a domain
//! separator and the SHA-256 of the exact report bytes:
//!
//! ```text
//! scorpius-report-signature/v1
//! algorithm: ed25519
//! key: <verifier key name>+<key id hex>
//! sha256: <hex digest of the report bytes>
//! signature: <base64 Ed25519 signature over "scorpius-report-signature/v1\n" || digest>
//! ```
//!
//! Keys are the named Ed25519 keys of [`crate::audit::checkpoint`]; public keys are exchanged
//! as verifier keys (`name+id+base64`).

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use sha2::{Digest, Sha256};

use crate::audit::checkpoint::{NoteSigner, NoteVerifier};

const HEADER: &str = "scorpius-report-signature/v1";

fn message(digest: &[u8; 32]) -> Vec<u8> {
    let mut m = format!("{HEADER}\n").into_bytes();
    m.extend_from_slice(digest);
    m
}

/// The signature file for `report`.
pub fn sign(signer: &NoteSigner, report: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(report).into();
    let sig = signer.sign_message(&message(&digest));
    format!(
        "{HEADER}\nalgorithm: ed25519\nkey: {}+{}\nsha256: {}\nsignature: {}\n",
        signer.name(),
        hex::encode(signer.key_id()),
        hex::encode(digest),
        B64.encode(sig)
    )
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature file is not in the format above.
    #[error("malformed signature file: {0}")]
    Malformed(&'static str),
    /// Signed by another key.
    #[error("signed by key {0}, not by the given public key {1}")]
    OtherKey(String, String),
    /// The report's bytes changed since it was signed.
    #[error("the report was modified: its SHA-256 is {actual}, the signature covers {signed}")]
    Modified {
        /// Digest of the file now.
        actual: String,
        /// Digest that was signed.
        signed: String,
    },
    /// The signature itself is invalid.
    #[error("the signature does not verify with the given public key")]
    BadSignature,
}

/// Checks `signature_file` over `report` with `key`.
pub fn verify(key: &NoteVerifier, report: &[u8], signature_file: &str) -> Result<(), SignatureError> {
    let mut lines = signature_file.lines();
    if lines.next() != Some(HEADER) {
        return Err(SignatureError::Malformed("the first line must be scorpius-report-signature/v1"));
    }
    let mut field = |name: &'static str| -> Result<&str, SignatureError> {
        lines
            .next()
            .and_then(|l| l.strip_prefix(name))
            .and_then(|l| l.strip_prefix(": "))
            .ok_or(SignatureError::Malformed("expected the fields algorithm, key, sha256, signature in order"))
    };
    if field("algorithm")? != "ed25519" {
        return Err(SignatureError::Malformed("only ed25519 signatures are supported"));
    }
    let signer = field("key")?.to_owned();
    let signed = field("sha256")?.to_owned();
    let sig = field("signature")?;
    let expected = format!("{}+{}", key.name(), hex::encode(key.key_id()));
    if signer != expected {
        return Err(SignatureError::OtherKey(signer, expected));
    }
    let digest: [u8; 32] = Sha256::digest(report).into();
    if hex::encode(digest) != signed {
        return Err(SignatureError::Modified { actual: hex::encode(digest), signed });
    }
    let sig: [u8; 64] = B64
        .decode(sig)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureError::Malformed("the signature is not 64 bytes of base64"))?;
    if key.verify_message(&message(&digest), &sig) { Ok(()) } else { Err(SignatureError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_every_byte_counts() {
        let signer = NoteSigner::from_seed("reports.example", &[3; 32]).unwrap();
        let key = signer.verifier();
        let report = br#"{"version":"2.1.0","runs":[]}"#;
        let sig = sign(&signer, report);
        assert!(sig.starts_with("scorpius-report-signature/v1\nalgorithm: ed25519\nkey: reports.example+"));
        verify(&key, report, &sig).unwrap();
        let mut changed = report.to_vec();
        changed[3] ^= 1;
        assert!(matches!(verify(&key, &changed, &sig), Err(SignatureError::Modified { .. })));
        let other = NoteSigner::from_seed("reports.example", &[4; 32]).unwrap().verifier();
        assert!(matches!(verify(&other, report, &sig), Err(SignatureError::OtherKey(..))));
        let forged = sig.replacen("signature: ", "signature: A", 1);
        assert!(verify(&key, report, &forged).is_err());
        assert!(matches!(verify(&key, report, "nonsense"), Err(SignatureError::Malformed(_))));
        // A signature made for other bytes does not carry over, even with the digest line edited.
        let other_sig = sign(&signer, b"other");
        let spliced = other_sig.replace(&hex::encode(Sha256::digest(b"other")), &hex::encode(Sha256::digest(report)));
        assert_eq!(verify(&key, report, &spliced), Err(SignatureError::BadSignature));
    }
}
