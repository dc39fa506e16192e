//! The Merkle tree of RFC 6962 / RFC 9162 §2.1: leaf hash `SHA-256(0x00 || leaf)`, node hash
//! `SHA-256(0x01 || left || right)`, and the split at the largest power of two smaller than
//! the size (no duplicated last node). Inclusion and consistency proofs are generated and
//! verified as in RFC 9162 §2.1.3–2.1.4.
//!
//! Proofs are computed from the *perfect* subtrees of the log — aligned ranges of `2^level`
//! leaves — which a store keeps as it appends ([`NodeSource`]). Any subtree an RFC 9162
//! proof needs is either perfect or the right edge of a tree, which is at most `log2(n)`
//! perfect subtrees hashed together, so a proof in a log of a million entries reads about
//! forty nodes.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Where proofs read perfect subtree hashes from: `perfect(level, index)` is the hash of
/// leaves `[index << level, (index + 1) << level)`, which must all exist.
pub trait NodeSource {
    /// Error reading a node.
    type Error;
    /// The hash of a perfect, aligned subtree.
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Hash of the subtree over leaves `[lo, hi)`, where `[lo, hi)` is an RFC 6962 subtree: `lo`
/// is a multiple of the smallest power of two `>= hi - lo`.
pub fn subtree_hash<S: NodeSource>(src: &S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    let len = hi - lo;
    debug_assert!(len > 0);
    if len.is_power_of_two() {
        let level = len.trailing_zeros();
        return src.perfect(level, lo >> level);
    }
    let k = split_point(len);
    // The left part is perfect; the right part is the (shorter) right edge.
    let left = src.perfect(k.trailing_zeros(), lo >> k.trailing_zeros())?;
    let right = subtree_hash(src, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 { Ok(empty_root()) } else { subtree_hash(src, 0, size) }
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, as in
/// RFC 9162 §2.1.3.1, nearest sibling first. `None` when `index >= size`.
pub fn inclusion_proof<S: NodeSource>(src: &S, index: u64, size: u64) -> Result<Option<Vec<Hash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut path = Vec::new();
    // Walk down from the root, remembering the sibling subtree at each step.
    let (mut lo, mut hi) = (0u64, size);
    let mut siblings = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
        }
    }
    for (a, b) in siblings.into_iter().rev() {
        path.push(subtree_hash(src, a, b)?);
    }
    Ok(Some(path))
}

/// The consistency proof between the trees of `old` and `new` leaves (RFC 9162 §2.1.4.1).
/// `None` unless `0 < old <= new`.
pub fn consistency_proof<S: NodeSource>(src: &S, old: u64, new: u64) -> Result<Option<Vec<Hash>>, S::Error> {
    if old == 0 || old > new {
        return Ok(None);
    }
    let mut proof = Vec::new();
    subproof(src, old, 0, new, true, &mut proof)?;
    Ok(Some(proof))
}

/// SUBPROOF(m, D[lo:hi], b) of RFC 9162, with `m` relative to `lo`. Appends in the RFC's
/// order (deepest first).
fn subproof<S: NodeSource>(src: &S, m: u64, lo: u64, hi: u64, b: bool, out: &mut Vec<Hash>) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        if !b {
            out.push(subtree_hash(src, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, lo, lo + k, b, out)?;
        out.push(subtree_hash(src, lo + k, hi)?);
    } else {
        subproof(src, m - k, lo + k, hi, false, out)?;
        out.push(subtree_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index or sizes are out of range.
    #[error("{0}")]
    Range(&'static str),
    /// The proof has the wrong number of hashes.
    #[error("the proof has {got} hashes, {want} expected")]
    Length {
        /// Hashes given.
        got: usize,
        /// Hashes the sizes imply.
        want: usize,
    },
    /// The proof leads to a different root.
    #[error("the proof leads to root {computed}, not {expected}")]
    Mismatch {
        /// Root the proof computes (hex).
        computed: String,
        /// Root that was expected (hex).
        expected: String,
    },
}

fn mismatch(computed: &Hash, expected: &Hash) -> ProofError {
    ProofError::Mismatch { computed: hex::encode(computed), expected: hex::encode(expected) }
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Range("the leaf index is not smaller than the tree size"));
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::Length { got: proof.len(), want: inclusion_len(index, size) });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Length { got: proof.len(), want: inclusion_len(index, size) });
    }
    if r == *root { Ok(()) } else { Err(mismatch(&r, root)) }
}

fn inclusion_len(index: u64, size: u64) -> usize {
    let (mut lo, mut hi, mut n) = (0u64, size, 0);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            hi = lo + k
        } else {
            lo += k
        }
        n += 1;
    }
    n
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::Range("the old size is larger than the new size"));
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::Length { got: proof.len(), want: 0 });
        }
        return if old_root == new_root { Ok(()) } else { Err(mismatch(new_root, old_root)) };
    }
    if old == 0 {
        // Every tree is consistent with the empty tree; RFC 9162 gives no proof for it.
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::Length { got: proof.len(), want: 0 }) };
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::Length { got: 0, want: 1 });
    };
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::Range("the proof has more hashes than these sizes need"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Range("the proof has fewer hashes than these sizes need"));
    }
    if fr != *old_root {
        return Err(mismatch(&fr, old_root));
    }
    if sr != *new_root {
        return Err(mismatch(&sr, new_root));
    }
    Ok(())
}

/// The right edge of a growing tree: the perfect subtrees that a new leaf may still merge
/// with (a "compact range" from 0). Appending returns the perfect nodes it completes, which
/// is what a store persists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)` of each pending perfect subtree, largest first.
    stack: Vec<(u32, Hash)>,
}

impl Frontier {
    /// Number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; calls `completed(level, index, hash)` for every perfect subtree
    /// the leaf completes, the leaf itself (level 0) first.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, &Hash)) {
        let index = self.size;
        completed(0, index, &leaf);
        let mut node = (0u32, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != node.0 {
                break;
            }
            self.stack.pop();
            let merged = node_hash(&left, &node.1);
            node = (level + 1, merged);
            completed(node.0, index >> node.0, &node.1);
        }
        self.stack.push(node);
        self.size += 1;
    }

    /// The root of the tree of all leaves appended so far.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut acc)) = it.next() else { return empty_root() };
        for (_, left) in it {
            acc = node_hash(left, &acc);
        }
        acc
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its perfect subtrees.
    pub fn from_source<S: NodeSource>(src: &S, size: u64) -> Result<Self, S::Error> {
        let mut stack = Vec::new();
        let mut lo = 0u64;
        for level in (0..64u32).rev() {
            if size & (1 << level) != 0 {
                stack.push((level, src.perfect(level, lo >> level)?));
                lo += 1 << level;
            }
        }
        Ok(Frontier { size, stack })
    }
}

/// Perfect subtrees held in memory, level by level: for verification, tests and exports.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.frontier.push(leaf, |level, index, hash| {
            let level = level as usize;
            if levels.len() <= level {
                levels.push(Vec::new());
            }
            debug_assert_eq!(levels[level].len() as u64, index);
            levels[level].push(*hash);
        });
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The root of the first `size` leaves (`size` at most [`Self::size`]).
    pub fn root_at(&self, size: u64) -> Hash {
        match root(self, size) {
            Ok(h) => h,
            Err(never) => match never {},
        }
    }
}

impl NodeSource for MemoryTree {
    type Error = std::convert::Infallible;

    fn perfect(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        Ok(self.levels[level as usize][usize::try_from(index).unwrap_or(usize::MAX)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Leaves and expected hashes from the transparency-dev/merkle reference tests
    // (testonly/constants.go and reference_test.go), which implement RFC 6962 directly.
    const LEAVES: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn tree(n: usize) -> MemoryTree {
        let mut t = MemoryTree::default();
        for l in &LEAVES[..n] {
            t.push(leaf_hash(&hex::decode(l).unwrap()));
        }
        t
    }

    #[test]
    fn roots_match_the_reference_vectors() {
        for (n, want) in ROOTS.iter().enumerate() {
            let t = tree(n);
            assert_eq!(hex::encode(t.root()), *want, "size {n}");
            assert_eq!(hex::encode(t.root_at(n as u64)), *want, "size {n} via subtrees");
            assert_eq!(hex::encode(tree(8).root_at(n as u64)), *want, "prefix {n} of 8");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors() {
        let cases: [(u64, u64, &[&str]); 6] = [
            (0, 1, &[]),
            (0, 2, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
            (1, 2, &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
            (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let t = tree(8);
        for (index, size, want) in cases {
            let proof = inclusion_proof(&t, index, size).unwrap().unwrap();
            let got: Vec<String> = proof.iter().map(hex::encode).collect();
            assert_eq!(got, want, "index {index} size {size}");
            let leaf = leaf_hash(&hex::decode(LEAVES[index as usize]).unwrap());
            verify_inclusion(&leaf, index, size, &proof, &h(ROOTS[size as usize])).unwrap();
        }
        assert_eq!(inclusion_proof(&t, 8, 8).unwrap(), None);
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors() {
        let cases: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let t = tree(8);
        for (old, new, want) in cases {
            let proof = consistency_proof(&t, old, new).unwrap().unwrap();
            let got: Vec<String> = proof.iter().map(hex::encode).collect();
            assert_eq!(got, want, "{old} -> {new}");
            verify_consistency(old, new, &h(ROOTS[old as usize]), &h(ROOTS[new as usize]), &proof).unwrap();
        }
    }

    #[test]
    fn every_proof_in_small_trees_verifies_and_tampering_fails() {
        let mut t = MemoryTree::default();
        for n in 1..=70u64 {
            t.push(leaf_hash(&n.to_be_bytes()));
            let root = t.root();
            for i in 0..n {
                let p = inclusion_proof(&t, i, n).unwrap().unwrap();
                let leaf = leaf_hash(&(i + 1).to_be_bytes());
                verify_inclusion(&leaf, i, n, &p, &root).unwrap();
                assert!(verify_inclusion(&leaf_hash(b"x"), i, n, &p, &root).is_err());
                if let Some((_, rest)) = p.split_last() {
                    assert!(verify_inclusion(&leaf, i, n, rest, &root).is_err(), "short proof {i}/{n}");
                }
            }
            for m in 1..=n {
                let p = consistency_proof(&t, m, n).unwrap().unwrap();
                let old = t.root_at(m);
                verify_consistency(m, n, &old, &root, &p).unwrap();
                if m < n {
                    assert!(verify_consistency(m, n, &leaf_hash(b"x"), &root, &p).is_err(), "{m}->{n}");
                    assert!(verify_consistency(m, n, &old, &leaf_hash(b"x"), &p).is_err(), "{m}->{n}");
                }
            }
            assert_eq!(Frontier::from_source(&t, n).unwrap(), t.frontier);
        }
    }
}
