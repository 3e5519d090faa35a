//! Deciding what a pass must do, without doing any of it.
//!
//! [`plan`] sorts the scanned files by a quick check on (dev, inode, size, mtime) against
//! what was seen before, so only files that differ get hashed; [`resolve`] then classifies
//! the hashed ones as new, changed, renamed or merely touched. Both are pure functions.

use std::collections::{BTreeMap, HashMap};

use crate::archive::pass::{Class, Object, Resolved};
use crate::catalog::index::{Lookup, ObjectRef};
use crate::codec::Codec;
use crate::config::Names;
use crate::digest::ContentHash;
use crate::error::Result;
use crate::fsstat::FileId;
use crate::fsstat::{FileStat, ScannedFile};
use crate::remote;
use crate::state::Seen;

/// The result of the quick check.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Archived as they are: nothing to do.
    pub unchanged: Vec<ScannedFile>,
    /// Same inode, size and mtime as an archived file seen under another path
    /// (logrotate's rename): recorded against the stored object, not hashed or uploaded.
    pub renamed: Vec<(ScannedFile, ContentHash)>,
    /// Must be hashed before deciding.
    pub candidates: Vec<ScannedFile>,
}

impl Plan {
    /// The renamed files and candidates in batches of at most `size` (the renamed ones
    /// first), each a plan of its own.
    pub(crate) fn into_batches(self, size: usize) -> Vec<Plan> {
        let mut out = Vec::new();
        let mut renamed = self.renamed;
        let mut candidates = self.candidates;
        while !renamed.is_empty() || !candidates.is_empty() || out.is_empty() {
            let r: Vec<_> = renamed.drain(..renamed.len().min(size)).collect();
            let room = size - r.len();
            let c: Vec<_> = candidates.drain(..candidates.len().min(room)).collect();
            out.push(Plan {
                renamed: r,
                candidates: c,
                ..Plan::default()
            });
        }
        out
    }
}

/// Splits `files` into those whose stat matches a trusted record of archived content
/// (nothing to do — and no index needed to know it) and the rest.
pub(crate) fn quick_check(
    files: Vec<ScannedFile>,
    seen: &BTreeMap<FileId, Seen>,
) -> (Vec<ScannedFile>, Vec<ScannedFile>) {
    let mut cursor = SeenCursor::new(seen);
    files.into_iter().partition(|f| {
        cursor
            .get(&f.source, &f.rel)
            .is_some_and(|s| s.is_trusted() && s.stat == f.stat)
    })
}

/// Looks files up in the seen records without building a key per file: a scan lists
/// each source's files in path order, which is the records' order, so one walk of the
/// records in step with the files finds them all. A file out of that order is looked up
/// directly, so any order gives the same answers.
struct SeenCursor<'a> {
    seen: &'a BTreeMap<FileId, Seen>,
    source: Option<&'a str>,
    records: std::iter::Peekable<std::collections::btree_map::Range<'a, FileId, Seen>>,
}

impl<'a> SeenCursor<'a> {
    fn new(seen: &'a BTreeMap<FileId, Seen>) -> Self {
        SeenCursor {
            seen,
            source: None,
            records: seen.range::<FileId, _>(..).peekable(),
        }
    }

    fn get(&mut self, source: &str, rel: &str) -> Option<&'a Seen> {
        if self.source != Some(source) {
            let from = (source.to_string(), String::new());
            self.records = self.seen.range(from..).peekable();
            self.source = self.records.peek().map(|&(k, _)| k.0.as_str());
        }
        while let Some(&((s, p), r)) = self.records.peek() {
            if s != source {
                break;
            }
            match p.as_str().cmp(rel) {
                std::cmp::Ordering::Less => self.records.next(),
                std::cmp::Ordering::Equal => return Some(r),
                std::cmp::Ordering::Greater => break,
            };
        }
        // Not at the cursor: absent, or out of path order.
        self.seen.get(&(source.to_string(), rel.to_string()))
    }
}

/// Sorts `files` into unchanged, renamed-by-inode and to-hash.
pub(crate) fn plan(
    files: Vec<ScannedFile>,
    index: &dyn Lookup,
    seen: &BTreeMap<FileId, Seen>,
) -> Result<Plan> {
    // The whole stat, ctime included: a rename moves the ctime on the usual Linux
    // filesystems, so a renamed file is hashed (and found stored by its content, so not
    // uploaded); an inode, size and mtime alone would let a rewrite with the mtime put
    // back, or a reused inode, pass for the archived file.
    let by_stat: HashMap<&FileStat, &Seen> = seen
        .values()
        .filter(|s| s.is_trusted())
        .map(|s| (&s.stat, s))
        .collect();
    let (unchanged, rest) = quick_check(files, seen);
    let mut out = Plan {
        unchanged,
        ..Plan::default()
    };
    for f in rest {
        let archived = index.entry(&f.source, &f.rel)?;
        let moved = match by_stat.get(&f.stat) {
            Some(s) if archived.as_ref().is_none_or(|e| e.sha256 != s.sha256) => {
                index.object(&s.sha256)?.map(|_| *s)
            }
            _ => None,
        };
        match moved {
            Some(s) => {
                let hash = s.sha256;
                out.renamed.push((f, hash));
            }
            None => out.candidates.push(f),
        }
    }
    Ok(out)
}

/// Classifies one hashed file against the archive; new content is to be stored with
/// `codec`. Under [`Names::Immutable`] other content at an archived name is a conflict.
pub(crate) fn resolve(
    file: ScannedFile,
    hash: ContentHash,
    index: &dyn Lookup,
    codec: Codec,
    names: Names,
    encrypted_for: Option<&str>,
) -> Result<Resolved> {
    let archived = index.entry(&file.source, &file.rel)?;
    let upload = |file: &ScannedFile| {
        Object::Upload(
            remote::layout::content_key(
                &file.source,
                &file.rel,
                &hash,
                codec.compression,
                encrypted_for,
            ),
            codec,
        )
    };
    let existing = |e: &crate::catalog::Entry| {
        Object::Existing(ObjectRef {
            key: e.key.clone(),
            compression: e.compression,
            stored_size: e.stored_size,
        })
    };
    let (class, object) = match (&archived, index.object(&hash)?) {
        (Some(e), _) if e.sha256 == hash => (Class::Touched, existing(e)),
        (Some(e), _) if names == Names::Immutable => {
            (Class::Conflict { archived: e.sha256 }, existing(e))
        }
        (_, Some(obj)) => (Class::Renamed, Object::Existing(obj)),
        (Some(_), None) => (Class::Changed, upload(&file)),
        (None, None) => (Class::New, upload(&file)),
    };
    Ok(Resolved {
        file,
        hash,
        class,
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::index::Index;

    fn plan(files: Vec<ScannedFile>, index: &Index, seen: &BTreeMap<FileId, Seen>) -> Plan {
        super::plan(files, index, seen).unwrap()
    }

    fn resolve(
        file: ScannedFile,
        hash: ContentHash,
        index: &Index,
        codec: Codec,
        names: Names,
    ) -> Resolved {
        super::resolve(file, hash, index, codec, names, None).unwrap()
    }
    use crate::catalog::{Entry, Generation, GenerationNo, Kind};
    use crate::codec::Compression;
    use crate::fsstat::FileStat;
    use std::path::PathBuf;

    fn stat(ino: u64, size: u64, mtime_ns: i64) -> FileStat {
        FileStat {
            ctime_ns: mtime_ns,
            btime_ns: Some(ino as i64),
            dev: 1,
            ino,
            size,
            mtime_ns,
        }
    }

    fn file(rel: &str, st: FileStat) -> ScannedFile {
        ScannedFile {
            source: "app".into(),
            rel: rel.into(),
            abs: PathBuf::from("/logs").join(rel),
            stat: st,
        }
    }

    /// An archive holding `files` (path, content), each seen with the given stat.
    fn archive(files: &[(&str, &[u8], FileStat)]) -> (Index, BTreeMap<FileId, Seen>) {
        let entries: Vec<Entry> = files
            .iter()
            .map(|(p, c, st)| {
                let h = ContentHash::of(c);
                Entry {
                    source: "app".into(),
                    path: p.to_string(),
                    size: st.size,
                    mtime_ns: st.mtime_ns,
                    sha256: h,
                    key: remote::layout::data_key("app", p, &h, Compression::None).to_string(),
                    compression: Compression::None,
                    stored_size: None,
                    archived_at: Default::default(),
                    generation: GenerationNo(1),
                }
            })
            .collect();
        let mut index = Index::default();
        index
            .apply(&Generation {
                version: 1,
                generation: GenerationNo(1),
                kind: Kind::Full,
                base: GenerationNo(1),
                created_at: Default::default(),
                report: None,
                runs: Vec::new(),
                parts: Vec::new(),
                entries,
                expiry: None,
            })
            .unwrap();
        let seen = files
            .iter()
            .map(|(p, c, st)| {
                (
                    ("app".to_string(), p.to_string()),
                    Seen {
                        stat: *st,
                        sha256: ContentHash::of(c),
                        seen_at_ns: st.mtime_ns + 60_000_000_000,
                    },
                )
            })
            .collect();
        (index, seen)
    }

    #[test]
    fn other_content_at_an_immutable_name_is_a_conflict_even_if_stored_elsewhere() {
        let (index, _) = archive(&[
            ("a.log", b"abc", stat(1, 3, 10)),
            ("b.log", b"xyz", stat(2, 3, 11)),
        ]);
        let f = file("a.log", stat(3, 3, 12));
        let immutable = |hash| resolve(f.clone(), hash, &index, Codec::PLAIN, Names::Immutable);
        assert_eq!(
            immutable(ContentHash::of(b"xyz")).class,
            Class::Conflict {
                archived: ContentHash::of(b"abc")
            }
        );
        assert_eq!(
            immutable(ContentHash::of(b"new")).class,
            Class::Conflict {
                archived: ContentHash::of(b"abc")
            }
        );
        assert_eq!(immutable(ContentHash::of(b"abc")).class, Class::Touched);
        let reused = resolve(
            f.clone(),
            ContentHash::of(b"new"),
            &index,
            Codec::PLAIN,
            Names::Reused,
        );
        assert_eq!(reused.class, Class::Changed);
    }

    #[test]
    fn new_file_is_a_candidate_then_new() {
        let (index, seen) = archive(&[]);
        let p = plan(vec![file("a.log", stat(1, 3, 10))], &index, &seen);
        assert_eq!(p.candidates.len(), 1);
        let r = resolve(
            p.candidates[0].clone(),
            ContentHash::of(b"abc"),
            &index,
            Codec::PLAIN,
            Names::Reused,
        );
        assert_eq!(r.class, Class::New);
        assert!(
            matches!(r.object, Object::Upload(ref k, _) if k.as_ref().starts_with("data/app/a.log-"))
        );
    }

    #[test]
    fn same_stat_is_unchanged_without_hashing() {
        let st = stat(1, 3, 10);
        let (index, seen) = archive(&[("a.log", b"abc", st)]);
        let p = plan(vec![file("a.log", st)], &index, &seen);
        assert_eq!((p.unchanged.len(), p.candidates.len()), (1, 0));
    }

    #[test]
    fn appended_file_is_changed_with_a_new_key() {
        let (index, seen) = archive(&[("a.log", b"abc", stat(1, 3, 10))]);
        let p = plan(vec![file("a.log", stat(1, 6, 20))], &index, &seen);
        assert_eq!(p.candidates.len(), 1);
        let r = resolve(
            p.candidates[0].clone(),
            ContentHash::of(b"abcdef"),
            &index,
            Codec::PLAIN,
            Names::Reused,
        );
        assert_eq!(r.class, Class::Changed);
        let old = index.get("app", "a.log").unwrap().key.clone();
        assert!(matches!(r.object, Object::Upload(ref k, _) if k.as_ref() != old));
    }

    #[test]
    fn shrunk_file_is_changed() {
        let (index, seen) = archive(&[("a.log", b"abcdef", stat(1, 6, 10))]);
        let p = plan(vec![file("a.log", stat(1, 0, 20))], &index, &seen);
        let r = resolve(
            p.candidates[0].clone(),
            ContentHash::of(b""),
            &index,
            Codec::PLAIN,
            Names::Reused,
        );
        assert_eq!(r.class, Class::Changed);
    }

    #[test]
    fn touched_but_same_content_is_not_uploaded() {
        let (index, seen) = archive(&[("a.log", b"abc", stat(1, 3, 10))]);
        let p = plan(vec![file("a.log", stat(1, 3, 99))], &index, &seen);
        assert_eq!(p.candidates.len(), 1, "mtime moved: must hash");
        let r = resolve(
            p.candidates[0].clone(),
            ContentHash::of(b"abc"),
            &index,
            Codec::PLAIN,
            Names::Reused,
        );
        assert_eq!(r.class, Class::Touched);
        assert!(matches!(r.object, Object::Existing(_)));
    }

    #[test]
    fn rotated_rename_is_recorded_without_hashing() {
        let st1 = stat(7, 3, 10);
        let (index, seen) = archive(&[("app.log.1", b"old", st1)]);
        // logrotate: app.log.1 -> app.log.2 (same inode), a new app.log.1 appears.
        let p = plan(
            vec![file("app.log.1", stat(8, 5, 30)), file("app.log.2", st1)],
            &index,
            &seen,
        );
        assert_eq!(p.renamed.len(), 1);
        assert_eq!(p.renamed[0].0.rel, "app.log.2");
        assert_eq!(p.renamed[0].1, ContentHash::of(b"old"));
        assert_eq!(p.candidates.len(), 1);
        assert_eq!(p.candidates[0].rel, "app.log.1");
    }

    #[test]
    fn copied_content_is_renamed_after_hashing() {
        let (index, seen) = archive(&[("a.log", b"abc", stat(1, 3, 10))]);
        let p = plan(vec![file("b.log", stat(2, 3, 50))], &index, &seen);
        let r = resolve(
            p.candidates[0].clone(),
            ContentHash::of(b"abc"),
            &index,
            Codec::PLAIN,
            Names::Reused,
        );
        assert_eq!(r.class, Class::Renamed);
        assert_eq!(
            r.object,
            Object::Existing(ObjectRef {
                key: index.get("app", "a.log").unwrap().key.clone(),
                compression: Compression::None,
                stored_size: None,
            })
        );
    }

    #[test]
    fn recently_modified_stat_is_not_trusted() {
        let st = stat(1, 3, 10);
        let (index, mut seen) = archive(&[("a.log", b"abc", st)]);
        for s in seen.values_mut() {
            s.seen_at_ns = st.mtime_ns + 1_000;
        }
        // Same stat, but the record was taken within the racy window: hash again.
        let p = plan(vec![file("a.log", st), file("b.log", st)], &index, &seen);
        assert_eq!(
            (p.unchanged.len(), p.renamed.len(), p.candidates.len()),
            (0, 0, 2)
        );
    }

    #[test]
    fn the_quick_check_answers_the_same_in_any_order_and_across_sources() {
        let (_, mut seen) = archive(&[
            ("a.log", b"a", stat(1, 1, 10)),
            ("b.log", b"b", stat(2, 1, 10)),
            ("d/c.log", b"c", stat(3, 1, 10)),
        ]);
        let other = seen[&("app".to_string(), "b.log".to_string())];
        seen.insert(("db".to_string(), "b.log".to_string()), other);
        let mut files = vec![
            file("a.log", stat(1, 1, 10)),
            file("aa.log", stat(9, 1, 10)),
            file("b.log", stat(2, 1, 10)),
            file("d/c.log", stat(3, 1, 99)),
            ScannedFile {
                source: "db".into(),
                ..file("b.log", stat(2, 1, 10))
            },
            ScannedFile {
                source: "zz".into(),
                ..file("b.log", stat(2, 1, 10))
            },
        ];
        let names = |v: &[ScannedFile]| {
            let mut v: Vec<String> = v
                .iter()
                .map(|f| format!("{}/{}", f.source, f.rel))
                .collect();
            v.sort();
            v
        };
        let unchanged_ones = ["app/a.log", "app/b.log", "db/b.log"];
        let others = ["app/aa.log", "app/d/c.log", "zz/b.log"];
        for turn in 0..files.len() {
            files.rotate_left(1);
            if turn % 2 == 1 {
                files.reverse();
            }
            let (unchanged, rest) = quick_check(files.clone(), &seen);
            assert_eq!(names(&unchanged), unchanged_ones, "{turn}");
            assert_eq!(names(&rest), others, "{turn}");
        }
    }

    #[test]
    fn deleted_locally_stays_archived() {
        let (index, seen) = archive(&[
            ("a.log", b"abc", stat(1, 3, 10)),
            ("b.log", b"b", stat(2, 1, 10)),
        ]);
        let p = plan(vec![file("a.log", stat(1, 3, 10))], &index, &seen);
        assert_eq!(p.unchanged.len(), 1);
        assert!(p.candidates.is_empty() && p.renamed.is_empty());
    }
}
