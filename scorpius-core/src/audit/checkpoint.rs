//! Signed checkpoints in the C2SP `tlog-checkpoint` format, wrapped in a C2SP `signed-note`
//! with an Ed25519 signature, so existing transparency tooling (Go's `sumdb/note`,
//! `transparency-dev` witnesses) can read and verify them:
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root hash>\n\n— <key name> <base64(key id || signature)>\n
//! ```
//!
//! The key id is the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`; the
//! signature covers the note text (the three lines with their newlines). Public keys are
//! exchanged as verifier keys, `<name>+<hex key id>+<base64(0x01 || public key)>`.

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signed-note algorithm byte for Ed25519.
const ALG_ED25519: u8 = 0x01;

/// Why a checkpoint or key did not parse or verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a well-formed note or checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// A key string is malformed.
    #[error("malformed key: {0}")]
    Key(String),
    /// No signature by the given key.
    #[error("the checkpoint has no signature by key {name} ({key_id})")]
    NotSigned {
        /// Key name.
        name: String,
        /// Key id (hex).
        key_id: String,
    },
    /// The signature by the key is invalid.
    #[error("the signature by key {name} ({key_id}) does not verify")]
    BadSignature {
        /// Key name.
        name: String,
        /// Key id (hex).
        key_id: String,
    },
}

/// A checkpoint: the log's identity, size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique origin line, e.g. `scorpius.local/audit/5f0c…`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Merkle root of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text (what is signed).
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }
}

/// The key id of an Ed25519 key under a name.
pub fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['+', ' ', '\n']) && name.chars().all(|c| !c.is_control())
}

/// A named Ed25519 signing key. Its `Debug` never shows the secret.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner").field("name", &self.name).field("key_id", &hex::encode(self.key_id())).finish()
    }
}

impl NoteSigner {
    /// A signer from a 32-byte seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CheckpointError> {
        if !valid_name(name) {
            return Err(CheckpointError::Key(format!("invalid key name {name:?}")));
        }
        Ok(NoteSigner { name: name.to_owned(), key: SigningKey::from_bytes(seed) })
    }

    /// A fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| CheckpointError::Key(format!("no randomness: {e}")))?;
        Self::from_seed(name, &seed)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` (Go `note` format).
    pub fn from_private_key(s: &str) -> Result<Self, CheckpointError> {
        let rest = s
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| CheckpointError::Key("a private key starts with PRIVATE+KEY+".into()))?;
        let (name, id, key) = split_key(rest)?;
        let bytes = B64.decode(key).map_err(|_| CheckpointError::Key("the key is not base64".into()))?;
        let seed: [u8; 32] = match bytes.split_first() {
            Some((&ALG_ED25519, seed)) => {
                seed.try_into().map_err(|_| CheckpointError::Key("an Ed25519 seed has 32 bytes".into()))?
            }
            _ => return Err(CheckpointError::Key("only Ed25519 keys are supported".into())),
        };
        let signer = Self::from_seed(name, &seed)?;
        if hex::encode(signer.key_id()) != id {
            return Err(CheckpointError::Key("the key id does not match the key".into()));
        }
        Ok(signer)
    }

    /// The private key string (`PRIVATE+KEY+…`). Write it only to a file only its owner can read.
    pub fn private_key(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex::encode(self.key_id()), B64.encode(bytes))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key.verifying_key())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), key: self.key.verifying_key() }
    }

    /// Signs arbitrary bytes (a detached signature, e.g. over a report digest).
    pub fn sign_message(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// Signs a checkpoint and returns the whole signed note.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let sig = self.key.sign(body.as_bytes());
        let mut blob = self.key_id().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

fn split_key(s: &str) -> Result<(&str, &str, &str), CheckpointError> {
    let mut parts = s.splitn(3, '+');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(id), Some(key)) if valid_name(name) && id.len() == 8 => Ok((name, id, key)),
        _ => Err(CheckpointError::Key("expected <name>+<8 hex digit key id>+<base64 key>".into())),
    }
}

/// A named Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key `<name>+<hex id>+<base64(0x01 || public key)>`.
    pub fn parse(s: &str) -> Result<Self, CheckpointError> {
        let (name, id, key) = split_key(s.trim())?;
        let bytes = B64.decode(key).map_err(|_| CheckpointError::Key("the key is not base64".into()))?;
        let public: [u8; 32] = match bytes.split_first() {
            Some((&ALG_ED25519, pk)) => {
                pk.try_into().map_err(|_| CheckpointError::Key("an Ed25519 public key has 32 bytes".into()))?
            }
            _ => return Err(CheckpointError::Key("only Ed25519 keys are supported".into())),
        };
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| CheckpointError::Key("not a valid Ed25519 public key".into()))?;
        let v = NoteVerifier { name: name.to_owned(), key };
        if hex::encode(v.key_id()) != id {
            return Err(CheckpointError::Key("the key id does not match the key".into()));
        }
        Ok(v)
    }

    /// The verifier key string.
    pub fn encode(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.key_id()), B64.encode(bytes))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key)
    }

    /// Checks a detached signature made by [`NoteSigner::sign_message`].
    pub fn verify_message(&self, msg: &[u8], signature: &[u8; 64]) -> bool {
        self.key.verify_strict(msg, &Signature::from_bytes(signature)).is_ok()
    }

    /// Parses a signed checkpoint note and checks this key's signature on it.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let (body, sigs) = note
            .split_once("\n\n")
            .ok_or_else(|| CheckpointError::Malformed("no blank line before the signatures".into()))?;
        let body = format!("{body}\n");
        let checkpoint = parse_body(&body)?;
        let id = self.key_id();
        let (name, key_id) = (self.name.clone(), hex::encode(id));
        let mut found = false;
        for line in sigs.lines().filter(|l| !l.is_empty()) {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| CheckpointError::Malformed("a signature line starts with an em dash".into()))?;
            let (sig_name, blob) = rest
                .split_once(' ')
                .ok_or_else(|| CheckpointError::Malformed("signature line without a key name".into()))?;
            let blob = B64.decode(blob).map_err(|_| CheckpointError::Malformed("signature is not base64".into()))?;
            if sig_name != self.name || blob.len() < 4 || blob[..4] != id {
                continue;
            }
            found = true;
            let sig: [u8; 64] = blob[4..]
                .try_into()
                .map_err(|_| CheckpointError::BadSignature { name: name.clone(), key_id: key_id.clone() })?;
            self.key
                .verify_strict(body.as_bytes(), &Signature::from_bytes(&sig))
                .map_err(|_| CheckpointError::BadSignature { name: name.clone(), key_id: key_id.clone() })?;
        }
        if found { Ok(checkpoint) } else { Err(CheckpointError::NotSigned { name, key_id }) }
    }
}

/// Parses the note text of a checkpoint (no signature check).
pub fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
    let mut lines = body.split('\n');
    let origin =
        lines.next().filter(|l| !l.is_empty()).ok_or_else(|| CheckpointError::Malformed("no origin line".into()))?;
    let size = lines
        .next()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or_else(|| CheckpointError::Malformed("the second line must be the tree size in decimal".into()))?;
    let root = lines
        .next()
        .and_then(|l| B64.decode(l).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| CheckpointError::Malformed("the third line must be a base64 SHA-256 root hash".into()))?;
    Ok(Checkpoint { origin: origin.to_owned(), size, root })
}

/// Parses a signed note without checking signatures (to read its size and root).
pub fn parse_unverified(note: &str) -> Result<Checkpoint, CheckpointError> {
    let (body, _) = note
        .split_once("\n\n")
        .ok_or_else(|| CheckpointError::Malformed("no blank line before the signatures".into()))?;
    parse_body(&format!("{body}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_parse_verify_round_trip_and_tamper() {
        let signer = NoteSigner::from_seed("example.com/log", &[42; 32]).unwrap();
        let cp = Checkpoint { origin: "example.com/log".into(), size: 12, root: [5; 32] };
        let note = signer.sign(&cp);
        assert!(note.starts_with("example.com/log\n12\nBQUF"), "{note}");
        assert!(note.contains("\n\n\u{2014} example.com/log "), "{note}");
        let v = NoteVerifier::parse(&signer.verifier().encode()).unwrap();
        assert_eq!(v.verify(&note).unwrap(), cp);
        assert_eq!(NoteSigner::from_private_key(&signer.private_key()).unwrap().key_id(), signer.key_id());
        assert!(!format!("{signer:?}").contains(&B64.encode([42u8; 32])));

        let tampered = note.replacen("\n12\n", "\n13\n", 1);
        assert!(matches!(v.verify(&tampered), Err(CheckpointError::BadSignature { .. })));
        let other = NoteSigner::from_seed("example.com/log", &[43; 32]).unwrap();
        assert!(matches!(other.verifier().verify(&note), Err(CheckpointError::NotSigned { .. })));
        assert!(matches!(v.verify("garbage"), Err(CheckpointError::Malformed(_))));
        assert!(NoteVerifier::parse("a+00000000+AAAA").is_err());
        assert!(NoteSigner::from_seed("bad name", &[1; 32]).is_err());
    }

    #[test]
    fn key_id_follows_the_signed_note_spec() {
        // SHA-256("name\n" || 0x01 || pk)[:4], computed independently here.
        let signer = NoteSigner::from_seed("n", &[1; 32]).unwrap();
        let mut msg = b"n\n\x01".to_vec();
        msg.extend_from_slice(signer.key.verifying_key().as_bytes());
        let d = Sha256::digest(&msg);
        assert_eq!(signer.key_id(), [d[0], d[1], d[2], d[3]]);
    }
}
