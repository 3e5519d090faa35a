//! What a check of the archive found: the catalog's record held against the bucket
//! (objects missing, corrupt, orphaned; generations missing or damaged). `verify`
//! fills it, `verify --repair` and `--prune-orphans` act on it, so it sits below all
//! three.

use serde::Serialize;

use super::manifest::GenerationNo;
use crate::codec::Compression;
use crate::digest::ContentHash;

/// A problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// Object key.
    pub key: String,
    /// `source/path` of a manifest entry naming it (empty for an orphan).
    pub file: String,
    /// What is wrong.
    pub detail: String,
    /// The content the manifests say the object holds (absent for an orphan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<ContentHash>,
    /// Size of that content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// How the object stores it.
    #[serde(skip)]
    pub compression: Compression,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Generations read.
    pub generations: u64,
    /// Distinct objects the manifests name.
    pub objects: u64,
    /// Objects downloaded and re-hashed.
    pub objects_read: u64,
    /// Bytes downloaded.
    pub bytes_read: u64,
    /// Named but absent.
    pub missing: Vec<Finding>,
    /// Present with another size, or bytes that hash to something else (or, encrypted,
    /// that do not decrypt).
    pub corrupt: Vec<Finding>,
    /// Encrypted for recipients none of the identities given matches (or no identity
    /// was given): present, not read back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Finding>,
    /// Present under `data/` but named by no generation (left by interrupted passes; not
    /// a failure). Only filled when every generation could be read.
    pub orphaned: Vec<Finding>,
    /// Present under `data/`, named by no readable generation, while some generation
    /// cannot be read: perhaps named by it, so never called an orphan.
    pub unaccounted: Vec<Finding>,
    /// Generations absent from the chain (below the newest).
    pub missing_generations: Vec<GenerationFinding>,
    /// Generations present but unreadable (truncated, garbage, unknown version).
    pub damaged_generations: Vec<GenerationFinding>,
    /// The newest generation listed.
    pub newest: GenerationNo,
    /// Objects `--repair` put back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repaired: Vec<Finding>,
    /// Missing or corrupt objects `--repair` could not put back, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_repaired: Vec<Finding>,
}

/// A generation that is absent or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenerationFinding {
    /// Its number.
    pub generation: GenerationNo,
    /// Its manifest key.
    pub key: String,
    /// What is wrong.
    pub detail: String,
    /// A later full checkpoint that readers load instead, when there is one: the
    /// generation then only matters to `--generation` reads of it.
    pub superseded_by: Option<GenerationNo>,
}

impl VerifyReport {
    /// Whether anything is wrong (exit 1). Orphans are not: interrupted passes leave them.
    pub fn has_problems(&self) -> bool {
        !(self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.unreadable.is_empty()
            && self.broken_chain().is_empty())
    }

    /// Missing or damaged generations that no later full checkpoint supersedes: the
    /// latest generation cannot be loaded until a checkpoint is committed on top.
    pub fn broken_chain(&self) -> Vec<&GenerationFinding> {
        self.missing_generations
            .iter()
            .chain(&self.damaged_generations)
            .filter(|g| g.superseded_by.is_none())
            .collect()
    }
}
