//! Everything but scans: API keys (`/v1/keys`), the audit trail (`/v1/audit/*`) and its
//! verification, intel lookups (`/v1/intel/{value}`), health (`/health/*`), metrics and the
//! OpenAPI document.

use futures_util::{Stream, stream};
use reqwest::Method;
use scorpius_core::{
    api::{
        audit::{
            CheckpointResponse, ConsistencyProof, ConsistencyQuery, EventsPage, EventsQuery, Export, InclusionProof,
            ProofQuery,
        },
        health::{DeepHealth, Health},
        intel::{IntelAnswer, IntelDataset, IntelImport, IntelQuery},
        keys::{CreateKeyRequest, CreatedKey, KeyInfo, KeyList},
    },
    audit::{Entry, checkpoint::NoteVerifier, event::parse_hash, merkle},
};

use crate::{
    Client, Error, Result,
    client::{Req, Retry, seg},
};

impl Client {
    // ---- keys ----------------------------------------------------------------------------

    /// Creates a key in the caller's tenant; the answer holds its secret, once. Never retried.
    ///
    /// # Errors
    /// [`Error::Api`] 403 unless the caller is an admin, 422 for a bad expiry or name.
    pub async fn create_key(&self, request: &CreateKeyRequest) -> Result<CreatedKey> {
        let body = serde_json::to_vec(request).map_err(|e| Error::Config(e.to_string()))?;
        let req = Req {
            method: Method::POST,
            path: "v1/keys".into(),
            query: None,
            body: Some(body),
            headers: Vec::new(),
            retry: Retry::Never,
        };
        self.json(&req).await
    }

    /// The tenant's keys (no secrets), newest first.
    ///
    /// # Errors
    /// [`Error::Api`] 403 unless the caller is an admin.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.json::<KeyList>(&Req::get("v1/keys")).await?.keys)
    }

    /// Gives a key a new secret (returned once); the old one stops working. Never retried.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when there is no such active key in the tenant.
    pub async fn rotate_key(&self, id: &str) -> Result<CreatedKey> {
        let req = Req {
            method: Method::POST,
            path: format!("v1/keys/{}/rotate", seg(id)),
            query: None,
            body: None,
            headers: Vec::new(),
            retry: Retry::Never,
        };
        self.json(&req).await
    }

    /// Revokes a key. Never retried (a repeat would answer 404).
    ///
    /// # Errors
    /// [`Error::Api`] 404 when there is no such active key in the tenant.
    pub async fn revoke_key(&self, id: &str) -> Result<()> {
        let req = Req {
            method: Method::DELETE,
            path: format!("v1/keys/{}", seg(id)),
            query: None,
            body: None,
            headers: Vec::new(),
            retry: Retry::Never,
        };
        self.send(&req).await.map(|_| ())
    }

    // ---- audit ---------------------------------------------------------------------------

    /// One page of the tenant's audit entries, oldest first.
    ///
    /// # Errors
    /// [`Error::Api`] 403 for roles without audit access, 400 for a bad limit.
    pub async fn audit_events(&self, query: &EventsQuery) -> Result<EventsPage> {
        self.json(&Req::get("v1/audit/events").query(query)).await
    }

    /// Every audit entry matching `query` from its `from_seq` on, page by page. The stream
    /// ends after the first error.
    pub fn audit_entries(&self, query: EventsQuery) -> impl Stream<Item = Result<Entry>> + Send + '_ {
        let start = (query, Vec::new().into_iter(), false);
        stream::unfold(start, move |(mut q, mut buf, mut done)| async move {
            loop {
                if let Some(e) = buf.next() {
                    return Some((Ok(e), (q, buf, done)));
                }
                if done {
                    return None;
                }
                match self.audit_events(&q).await {
                    Ok(page) => {
                        done = page.next_from_seq.is_none();
                        q.from_seq = page.next_from_seq;
                        buf = page.entries.into_iter();
                    }
                    Err(e) => return Some((Err(e), (q, Vec::new().into_iter(), true))),
                }
            }
        })
    }

    /// The log's newest signed checkpoint and its verifier key.
    ///
    /// # Errors
    /// [`Error::Api`] 403 for roles without audit access.
    pub async fn audit_checkpoint(&self) -> Result<CheckpointResponse> {
        self.json(&Req::get("v1/audit/checkpoint")).await
    }

    /// The inclusion proof of one of the tenant's entries in the tree of `size` entries
    /// (default: the whole log).
    ///
    /// # Errors
    /// [`Error::Api`] 404 when the entry is not the tenant's, 422 when `size` is out of range.
    pub async fn audit_proof(&self, seq: u64, size: Option<u64>) -> Result<InclusionProof> {
        let q = ProofQuery { size };
        self.json(&Req::get(format!("v1/audit/proof/{seq}")).query(&q)).await
    }

    /// The consistency proof between tree sizes `old` and `new` (default: the whole log).
    ///
    /// # Errors
    /// [`Error::Api`] 422 when the sizes are out of range.
    pub async fn audit_consistency(&self, old: u64, new: Option<u64>) -> Result<ConsistencyProof> {
        let q = ConsistencyQuery { old, new };
        self.json(&Req::get("v1/audit/consistency").query(&q)).await
    }

    /// The tenant's entries with the checkpoint and key that verify them.
    ///
    /// # Errors
    /// [`Error::Api`] 403 unless the caller is an admin or auditor.
    pub async fn audit_export(&self) -> Result<Export> {
        self.json(&Req::get("v1/audit/export")).await
    }

    /// Verifies the tenant's audit trail against the server's own log: the export's checkpoint
    /// must be signed by `trusted_key` (or, without one, by the key the export names — which
    /// only proves the server is self-consistent), every entry's hash must match its content,
    /// and every entry must be included in the signed tree (one inclusion proof each).
    ///
    /// # Errors
    /// Transport and API errors; tampering is reported in the [`AuditVerification`], not as
    /// an error.
    pub async fn verify_audit(&self, trusted_key: Option<&NoteVerifier>) -> Result<AuditVerification> {
        let export = self.audit_export().await?;
        let mut v = AuditVerification {
            tenant: export.tenant.clone(),
            tree_size: export.checkpoint.tree_size,
            entries: export.entries.len() as u64,
            key_trusted: trusted_key.is_some(),
            problems: Vec::new(),
        };
        let key = match trusted_key {
            Some(k) => k.clone(),
            None => NoteVerifier::parse(&export.public_key)
                .map_err(|e| Error::Decode(format!("the export's public key: {e}")))?,
        };
        let root = match key.verify(&export.checkpoint.note) {
            Ok(cp) if cp.size == export.checkpoint.tree_size => cp.root,
            Ok(cp) => {
                v.problems.push(AuditProblem::checkpoint(format!(
                    "the signed checkpoint is for {} entries, the export says {}",
                    cp.size, export.checkpoint.tree_size
                )));
                return Ok(v);
            }
            Err(e) => {
                v.problems.push(AuditProblem::checkpoint(format!("the checkpoint does not verify: {e}")));
                return Ok(v);
            }
        };
        let mut buf = Vec::with_capacity(256);
        for e in &export.entries {
            if let Some(p) = scorpius_core::audit::verify::entry_problem(e, &mut buf) {
                v.problems.push(AuditProblem { seq: Some(e.seq), message: p.message });
                continue;
            }
            let proof = self.audit_proof(e.seq, Some(v.tree_size)).await?;
            let hashes: Option<Vec<merkle::Hash>> = proof.proof.iter().map(|h| parse_hash(h)).collect();
            let (Some(leaf), Some(hashes)) = (parse_hash(&e.hash), hashes) else {
                v.problems.push(AuditProblem { seq: Some(e.seq), message: "malformed proof hashes".into() });
                continue;
            };
            if let Err(err) = merkle::verify_inclusion(&leaf, e.seq, v.tree_size, &hashes, &root) {
                v.problems.push(AuditProblem {
                    seq: Some(e.seq),
                    message: format!("entry {} is not in the signed tree: {err}", e.seq),
                });
            }
        }
        Ok(v)
    }

    // ---- intel ---------------------------------------------------------------------------

    /// What the server's intel says about an address (on `chain`, default ethereum) or a
    /// domain / URL.
    ///
    /// # Errors
    /// [`Error::Api`] 422 for a malformed address or domain.
    pub async fn intel(&self, value: &str, chain: Option<&str>) -> Result<IntelAnswer> {
        let q = IntelQuery { chain: chain.map(str::to_owned) };
        self.json(&Req::get(format!("v1/intel/{}", seg(value))).query(&q)).await
    }

    /// Imports a threat feed as a dataset of the caller's tenant (replacing one of the same
    /// name). Sent once: an import is not retried.
    ///
    /// # Errors
    /// [`Error::Api`] 422 naming the bad rows or field.
    pub async fn import_intel(&self, request: &IntelImport) -> Result<IntelDataset> {
        let body = serde_json::to_vec(request).map_err(|e| Error::Config(format!("serialising the import: {e}")))?;
        let req = Req {
            method: Method::POST,
            path: "v1/intel/import".into(),
            query: None,
            body: Some(body),
            headers: Vec::new(),
            retry: Retry::Never,
        };
        self.json(&req).await
    }

    /// The caller's tenant's intel datasets.
    ///
    /// # Errors
    /// Transport and authorisation errors.
    pub async fn intel_datasets(&self) -> Result<Vec<IntelDataset>> {
        self.json(&Req::get("v1/intel/datasets")).await
    }

    // ---- health and meta -----------------------------------------------------------------

    /// `/health/live`: the process answers.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn health_live(&self) -> Result<Health> {
        self.json(&Req::get("health/live")).await
    }

    /// `/health/ready`: ready to serve (503 while shutting down or without storage).
    ///
    /// # Errors
    /// [`Error::Api`] 503 when not ready.
    pub async fn health_ready(&self) -> Result<Health> {
        self.json(&Req::get("health/ready")).await
    }

    /// `/health/deep` (authenticated): a storage probe and a full audit log verification.
    ///
    /// # Errors
    /// [`Error::Api`] 503 when a check fails.
    pub async fn health_deep(&self) -> Result<DeepHealth> {
        self.json(&Req::get("health/deep")).await
    }

    /// `/metrics`: Prometheus text.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn metrics(&self) -> Result<String> {
        let a = self.send(&Req::get("metrics")).await?;
        String::from_utf8(a.body.to_vec()).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `/openapi.json`: the API description.
    ///
    /// # Errors
    /// Transport and decode errors.
    pub async fn openapi(&self) -> Result<serde_json::Value> {
        self.json(&Req::get("openapi.json")).await
    }
}

/// The outcome of [`Client::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditVerification {
    /// The tenant whose entries were checked.
    pub tenant: String,
    /// The size of the signed tree they were checked against.
    pub tree_size: u64,
    /// Entries checked.
    pub entries: u64,
    /// Whether the checkpoint was checked against a key the caller supplied (rather than the
    /// one the server sent along).
    pub key_trusted: bool,
    /// Everything wrong; empty when the trail verified.
    pub problems: Vec<AuditProblem>,
}

impl AuditVerification {
    /// Whether everything verified.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One problem [`Client::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditProblem {
    /// The entry it concerns, if one.
    pub seq: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl AuditProblem {
    fn checkpoint(message: String) -> Self {
        AuditProblem { seq: None, message }
    }
}
