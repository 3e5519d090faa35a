//! Glob matching for sources, with .gitignore's rule for where a pattern applies.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// gitignore-style globs: a pattern without `/` matches the file name at any depth, one
/// with `/` matches the path relative to the source's root.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<String>,
    by_name: GlobSet,
    by_path: GlobSet,
}

impl Matcher {
    /// Compiles patterns; on error returns the index of the bad one and why.
    pub fn new(patterns: &[String]) -> std::result::Result<Self, (usize, String)> {
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            if p.trim().is_empty() {
                return Err((i, "empty glob".into()));
            }
            if let Some(anchored) = p.strip_prefix('/').or(if p.contains('/') {
                Some(p.as_str())
            } else {
                None
            }) {
                let glob = GlobBuilder::new(anchored)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| (i, e.kind().to_string()))?;
                by_path.add(glob);
            } else {
                by_name.add(Glob::new(p).map_err(|e| (i, e.kind().to_string()))?);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| (0, e.to_string()));
        Ok(Matcher {
            patterns: patterns.to_vec(),
            by_name: build(by_name)?,
            by_path: build(by_path)?,
        })
    }

    /// No patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `rel` (slash-separated, relative to the source root) matches any pattern.
    pub fn matches(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.by_name.is_match(name) || self.by_path.is_match(rel)
    }
}
