//! File events as hints: a created, closed-after-write or renamed file in a source with
//! `watch = true` nudges an early pass, debounced, once the file is old enough to count
//! as closed. Correctness never depends on it: the schedule's passes find everything,
//! and a lost or coalesced event only means the file waits for the next tick.

use std::path::PathBuf;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::Source;
use crate::error::{Error, Result};
use crate::service::agent::Event;

/// Quiet time after the last event before the nudge.
pub(crate) const DEBOUNCE: Duration = Duration::from_secs(2);

/// Keeps the watches alive; dropping it stops them.
pub struct Watches {
    _watcher: notify::RecommendedWatcher,
    _task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Watches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watches")
    }
}

fn interesting(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(_))
    )
}

/// Watches every source with `watch = true`; `None` when there is none.
pub fn spawn(sources: &[Source], nudge: mpsc::Sender<Event>) -> Result<Option<Watches>> {
    let watched: Vec<Source> = sources.iter().filter(|s| s.watch).cloned().collect();
    if watched.is_empty() {
        return Ok(None);
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Duration>();
    let roots: Vec<(PathBuf, Source)> = watched
        .iter()
        .map(|s| (s.path.clone(), s.clone()))
        .collect();
    let for_events = roots.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if !interesting(&event.kind) {
            return;
        }
        for path in &event.paths {
            let Some((root, source)) = for_events.iter().find(|(r, _)| path.starts_with(r)) else {
                continue;
            };
            let Some(rel) = path.strip_prefix(root).ok().and_then(|r| r.to_str()) else {
                continue;
            };
            if (source.include.is_empty() || source.include.matches(rel))
                && !source.exclude.matches(rel)
            {
                let _ = tx.send(source.min_age);
            }
        }
    })
    .map_err(|e| Error::io("start file watcher", "(inotify)", std::io::Error::other(e)))?;
    for (root, _) in &roots {
        watcher
            .watch(root, RecursiveMode::Recursive)
            .map_err(|e| Error::io("watch", root, std::io::Error::other(e)))?;
    }
    let task = tokio::spawn(async move {
        while let Some(first_age) = rx.recv().await {
            let mut wait_for_age = first_age;
            // Debounce: wait until events stop for a moment.
            loop {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(age)) => wait_for_age = wait_for_age.max(age),
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            // A file written just now counts as closed only after min_age.
            tokio::time::sleep(wait_for_age.saturating_sub(DEBOUNCE)).await;
            if nudge.send(Event::RunNow("file event")).await.is_err() {
                return;
            }
        }
    });
    Ok(Some(Watches {
        _watcher: watcher,
        _task: task,
    }))
}
