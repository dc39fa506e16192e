//! Cross-checks the audit log's Merkle tree against an independent RFC 6962 implementation
//! (the `ct-merkle` crate) on random logs: roots, inclusion proofs and consistency proofs
//! must be byte-for-byte identical.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use scorpius_core::audit::merkle::{self, MemoryTree, leaf_hash};
use sha2_011::Sha256;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn roots_and_proofs_match_ct_merkle_on_random_logs() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..12 {
        let n = 1 + rng.next() % 300;
        let mut ours = MemoryTree::default();
        let mut theirs = MemoryBackedTree::<Sha256, Vec<u8>>::new();
        for i in 0..n {
            let leaf: Vec<u8> = (0..rng.next() % 64).map(|_| rng.next() as u8).collect();
            ours.push(leaf_hash(&leaf));
            theirs.push(leaf);
            let size = i + 1;
            assert_eq!(ours.root().as_slice(), theirs.root().as_bytes().as_slice(), "round {round} size {size}");
        }
        for _ in 0..40 {
            let idx = rng.next() % n;
            let proof = merkle::inclusion_proof(&ours, idx, n).unwrap().unwrap();
            let flat: Vec<u8> = proof.concat();
            let want = theirs.prove_inclusion(usize::try_from(idx).unwrap());
            assert_eq!(flat, want.as_bytes(), "inclusion {idx} of {n}");

            let old = 1 + rng.next() % n;
            let proof = merkle::consistency_proof(&ours, old, n).unwrap().unwrap();
            let want = theirs.prove_consistency(usize::try_from(n - old).unwrap());
            assert_eq!(proof.concat(), want.as_bytes(), "consistency {old} -> {n}");
        }
    }
}
