//! `logferry hosts`: the host prefixes under a `{hostname}` destination URL, each with
//! its newest generation, when that was committed and the lag since, so that one
//! operator sees a fleet of agents writing one bucket; as a table or JSON.

use std::time::{Duration, SystemTime};

use logferry::{
    each_host, latest_commit, Clock, Config, GenerationNo, HostPrefix, LatestCommit, SystemClock,
    Timestamp, Unlistable,
};
use serde::Serialize;

use crate::args::HostsArgs;
use crate::output::{error_text, fail, print_json, print_table, EXIT_OK, EXIT_USAGE};

/// What the read of one host prefix found.
type Found = Result<Option<LatestCommit>, String>;

/// One line of the listing; the JSON object of `hosts --json`, keys as documented.
#[derive(Debug, Serialize)]
struct HostRow {
    host: String,
    /// The source, with `{source}` in the URL too (one archive per source).
    source: Option<String>,
    url: String,
    generation: Option<GenerationNo>,
    committed_at: Option<Timestamp>,
    lag_seconds: Option<u64>,
    note: Option<String>,
}

pub(crate) async fn run_hosts(archives: &[Config], args: &HostsArgs) -> u8 {
    let now = SystemClock.now();
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    let mut listed: Vec<String> = Vec::new();
    for a in archives {
        let found = each_host(a, limit, |store| async move {
            match store {
                None => Err("the prefix cannot be opened".to_string()),
                Some(s) => latest_commit(&s).await.map_err(|e| error_text(&e)),
            }
        })
        .await;
        let prefixes = match found {
            Ok(Ok(p)) => p,
            Ok(Err(why)) => return unlistable(a, why),
            Err(e) => return fail(&e),
        };
        if prefixes.unchecked > 0 {
            eprintln!(
                "logferry: {} more host prefixes under {} not read (the list stops at {limit} by name); raise --limit to read them",
                prefixes.unchecked, prefixes.listed
            );
        }
        let source = (archives.len() > 1).then(|| a.sources[0].name.clone());
        rows.extend(
            prefixes
                .hosts
                .into_iter()
                .map(|h| row_of(h, source.clone(), now)),
        );
        if !listed.contains(&prefixes.listed) {
            listed.push(prefixes.listed);
        }
    }
    rows.sort_by(|a, b| (&a.host, &a.source).cmp(&(&b.host, &b.source)));
    if args.json {
        print_json(&rows);
    } else if rows.is_empty() {
        out!("no host archives under {}", listed.join(", "));
    } else {
        print_rows(&rows, archives.len() > 1);
    }
    EXIT_OK
}

/// Why `hosts` cannot list under this URL: a usage error naming the key.
fn unlistable(a: &Config, why: Unlistable) -> u8 {
    let url = &a.destination.url;
    match why {
        Unlistable::NoPlaceholder => eprintln!(
            "logferry: hosts needs {{hostname}} in destination.url to find the hosts' archives, and `{url}` has none (hint: write it where each host's prefix differs, e.g. s3://bucket/logs/{{hostname}})"
        ),
        _ => eprintln!(
            "logferry: hosts cannot list the hosts under destination.url: its {{hostname}} is where no listing reaches (the bucket or container name); put it in the path, e.g. s3://bucket/logs/{{hostname}}"
        ),
    }
    EXIT_USAGE
}

fn row_of(h: HostPrefix<Found>, source: Option<String>, now: SystemTime) -> HostRow {
    let mut row = HostRow {
        host: h.name,
        source,
        url: h.url,
        generation: None,
        committed_at: None,
        lag_seconds: None,
        note: None,
    };
    match h.found {
        Ok(Some(c)) => {
            row.generation = Some(c.generation);
            row.committed_at = Some(c.committed_at);
            row.lag_seconds = Some(lag(now, c.committed_at.time()).as_secs());
            row.note = c
                .unreadable
                .map(|why| format!("newest manifest unreadable ({why}); time from its object"));
        }
        Ok(None) => row.note = Some("no generation: not an archive, or none committed yet".into()),
        Err(why) => row.note = Some(why),
    }
    row
}

/// Now minus the commit; zero for a commit ahead of this host's clock.
fn lag(now: SystemTime, committed: SystemTime) -> Duration {
    now.duration_since(committed).unwrap_or_default()
}

fn print_rows(rows: &[HostRow], with_source: bool) {
    let mut head = vec!["HOST", "GENERATION", "COMMITTED_AT", "LAG", "NOTE"];
    if with_source {
        head.insert(1, "SOURCE");
    }
    let mut table = vec![head.into_iter().map(String::from).collect::<Vec<_>>()];
    for r in rows {
        let mut line = vec![
            r.host.clone(),
            r.generation.map_or("-".into(), |g| g.to_string()),
            r.committed_at.map_or("-".into(), super::to_the_second),
            r.lag_seconds.map_or("-".into(), |s| {
                humantime::format_duration(Duration::from_secs(s)).to_string()
            }),
            r.note.clone().unwrap_or_default(),
        ];
        if with_source {
            line.insert(1, r.source.clone().unwrap_or_default());
        }
        table.push(line);
    }
    print_table(&table);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_ahead_of_the_clock_has_no_lag() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(lag(t, t - Duration::from_secs(90)), Duration::from_secs(90));
        assert_eq!(lag(t, t + Duration::from_secs(5)), Duration::ZERO);
    }
}
