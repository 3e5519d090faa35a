//! The effective config printed by `check-config`: TOML that could be read back, or JSON
//! with the same keys, with every default filled in and every secret redacted, so an
//! operator sees what the agent will do rather than what the file happens to say.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{
    redact_url, shown_option, ClosedBy, Config, DestinationUrl, LogFormat, ScheduleKind, Source,
};
use crate::codec::Compression;

impl fmt::Display for Config {
    /// The effective config as TOML, secrets redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            writeln!(f, "# effective config from {}", file.display())?;
        }
        self.fmt_top(f)?;
        self.fmt_destination(f)?;
        self.fmt_hooks(f)?;
        write!(
            f,
            "\n[retention]\n{}",
            super::retention::retention_toml(&self.retention)
        )?;
        for s in &self.sources {
            fmt_source(f, s)?;
        }
        Ok(())
    }
}

/// A TOML string.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A TOML array of strings.
fn list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

/// A duration as humantime writes it, quoted.
fn dur(t: Duration) -> String {
    q(&humantime::format_duration(t).to_string())
}

fn log_format_name(format: LogFormat) -> &'static str {
    match format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    }
}

impl Config {
    /// The top-level keys.
    fn fmt_top(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "state_dir = {}",
            q(&self.state_dir.display().to_string())
        )?;
        match &self.schedule.kind {
            ScheduleKind::Interval(_) => writeln!(f, "interval = {}", q(&self.schedule.text))?,
            ScheduleKind::Cron(_, tz) => {
                writeln!(f, "schedule = {}", q(&self.schedule.text))?;
                match tz {
                    Some(tz) => writeln!(f, "timezone = {}", q(tz.name()))?,
                    None => writeln!(f, "# timezone: the host's local time")?,
                }
            }
        }
        writeln!(f, "jitter = {}", dur(self.jitter))?;
        writeln!(f, "shutdown_grace = {}", dur(self.shutdown_grace))?;
        if let Some(a) = self.metrics_listen {
            writeln!(f, "metrics_listen = {}", q(&a.to_string()))?;
        }
        if let Some(p) = &self.metrics_textfile {
            writeln!(f, "metrics_textfile = {}", q(&p.display().to_string()))?;
        }
        writeln!(f, "log_format = {}", q(log_format_name(self.log_format)))?;
        writeln!(f, "hash_workers = {}", self.hash_workers)?;
        writeln!(f, "requests_in_flight = {}", self.requests_in_flight)?;
        writeln!(f, "multipart_threshold = {}", self.multipart_threshold)?;
        writeln!(f, "part_size = {}", self.part_size)?;
        writeln!(
            f,
            "# memory budget: {} bytes of file content at once (4 × multipart_threshold)",
            self.memory_budget()
        )?;
        match &self.heartbeat {
            Some(h) => writeln!(f, "heartbeat_url = {}", q(&h.shown())),
            None => writeln!(f, "# heartbeat_url: none"),
        }
    }

    /// `[hooks]`: the commands as written (a secret belongs in the hook's environment,
    /// not in its command line).
    fn fmt_hooks(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n[hooks]")?;
        for (key, command) in [
            ("pre_pass", &self.hooks.pre_pass),
            ("post_pass", &self.hooks.post_pass),
        ] {
            match command {
                Some(c) => writeln!(f, "{key} = {}", q(c))?,
                None => writeln!(f, "# {key}: none")?,
            }
        }
        writeln!(f, "timeout = {}", dur(self.hooks.timeout))
    }

    /// `[destination]` and its options.
    fn fmt_destination(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.destination;
        writeln!(f, "\n[destination]\nurl = {}", q(&self.shown_url()))?;
        if matches!(d.url, DestinationUrl::Remote(_)) {
            writeln!(f, "connect_timeout = {}", dur(d.connect_timeout))?;
            writeln!(f, "request_timeout = {}", dur(d.request_timeout))?;
            writeln!(f, "max_retries = {}", d.max_retries)?;
            writeln!(f, "retry_timeout = {}", dur(d.retry_timeout))?;
        }
        if d.url.is_s3() {
            writeln!(f, "checksum = {}", q(d.checksum.name()))?;
        }
        match &d.encryption.recipients {
            None => writeln!(f, "encryption = \"none\"")?,
            Some(r) => writeln!(
                f,
                "encryption = \"age\"\nage_recipients = {}",
                list(r.texts())
            )?,
        }
        if let [one] = d.encryption.identity_files.as_slice() {
            writeln!(f, "identity_file = {}", q(&one.display().to_string()))?;
        }
        if !d.options.is_empty() {
            writeln!(f, "\n[destination.options]")?;
            for (k, v) in &d.options {
                writeln!(f, "{k} = {}", q(&shown_option(k, v)))?;
            }
        }
        Ok(())
    }
}

/// One `[[sources]]` table.
fn fmt_source(f: &mut fmt::Formatter<'_>, s: &Source) -> fmt::Result {
    writeln!(f, "\n[[sources]]")?;
    writeln!(f, "name = {}", q(&s.name))?;
    writeln!(f, "path = {}", q(&s.path.display().to_string()))?;
    // `include = []` is refused (it used to take every file): say "every file" so that
    // the output reads back as the same config.
    match s.include.patterns() {
        [] => writeln!(f, "# include: not set (every file)")?,
        p => writeln!(f, "include = {}", list(p))?,
    }
    writeln!(f, "exclude = {}", list(s.exclude.patterns()))?;
    if s.closed_by == ClosedBy::Quiet {
        writeln!(f, "min_age = {}", dur(s.min_age))?;
    }
    match &s.closed_by {
        ClosedBy::Quiet => writeln!(f, "closed_by = \"quiet\"")?,
        ClosedBy::NotNewest => writeln!(f, "closed_by = \"not-newest\"")?,
        ClosedBy::ReadyMarker { dir, suffixes } => writeln!(
            f,
            "closed_by = \"ready-marker\"\nmarker_dir = {}\nmarker_suffixes = {}",
            q(dir),
            list(suffixes)
        )?,
    }
    writeln!(f, "names = {}", q(s.names.as_str()))?;
    writeln!(f, "watch = {}", s.watch)?;
    if !matches!(s.closed_by, ClosedBy::ReadyMarker { .. }) {
        writeln!(
            f,
            "delete_after_archive = {}",
            s.delete_after_archive.map_or_else(|| q("never"), dur)
        )?;
    }
    match &s.encryption {
        None => writeln!(f, "encryption = \"none\"")?,
        Some(r) => writeln!(
            f,
            "encryption = \"age\"\nage_recipients = {}",
            list(r.texts())
        )?,
    }
    match s.codec.compression {
        Compression::None => writeln!(f, "compression = \"none\"")?,
        Compression::Zstd => writeln!(
            f,
            "compression = \"zstd\"\ncompression_level = {}",
            s.codec.level
        )?,
    }
    write!(
        f,
        "[sources.retention]\n{}",
        super::retention::keep_toml(&s.keep)
    )
}

impl Config {
    /// The destination URL as written (a `{source}` template stays one), secrets redacted.
    fn shown_url(&self) -> String {
        let Some(template) = &self.destination.template else {
            return self.destination.url.to_string();
        };
        match url::Url::parse(template) {
            Ok(u) if u.password().is_some() || u.query().is_some() => {
                redact_url(&u).replace("%7B", "{").replace("%7D", "}")
            }
            _ => template.clone(),
        }
    }

    /// The effective config as JSON, with the keys of the TOML form (durations as
    /// text, unset optional keys as null) and secrets redacted.
    pub fn to_json(&self) -> Value {
        let dur = |t: Duration| Value::from(humantime::format_duration(t).to_string());
        let path = |p: &std::path::Path| Value::from(p.display().to_string());
        let mut top = Map::new();
        top.insert(
            "file".into(),
            self.file.as_deref().map_or(Value::Null, path),
        );
        top.insert("state_dir".into(), path(&self.state_dir));
        match &self.schedule.kind {
            ScheduleKind::Interval(_) => {
                top.insert("interval".into(), json!(self.schedule.text));
            }
            ScheduleKind::Cron(_, tz) => {
                top.insert("schedule".into(), json!(self.schedule.text));
                top.insert("timezone".into(), json!(tz.map(|z| z.name())));
            }
        }
        top.insert("jitter".into(), dur(self.jitter));
        top.insert("shutdown_grace".into(), dur(self.shutdown_grace));
        top.insert(
            "metrics_listen".into(),
            json!(self.metrics_listen.map(|a| a.to_string())),
        );
        top.insert(
            "metrics_textfile".into(),
            self.metrics_textfile.as_deref().map_or(Value::Null, path),
        );
        top.insert("log_format".into(), json!(log_format_name(self.log_format)));
        top.insert("hash_workers".into(), json!(self.hash_workers));
        top.insert("requests_in_flight".into(), json!(self.requests_in_flight));
        top.insert(
            "multipart_threshold".into(),
            json!(self.multipart_threshold),
        );
        top.insert("part_size".into(), json!(self.part_size));
        top.insert(
            "heartbeat_url".into(),
            json!(self.heartbeat.as_ref().map(|h| h.shown())),
        );
        top.insert(
            "hooks".into(),
            json!({
                "pre_pass": self.hooks.pre_pass,
                "post_pass": self.hooks.post_pass,
                "timeout": humantime::format_duration(self.hooks.timeout).to_string(),
            }),
        );
        let d = &self.destination;
        let mut dest = Map::new();
        dest.insert("url".into(), json!(self.shown_url()));
        if matches!(d.url, DestinationUrl::Remote(_)) {
            dest.insert("connect_timeout".into(), dur(d.connect_timeout));
            dest.insert("request_timeout".into(), dur(d.request_timeout));
            dest.insert("max_retries".into(), json!(d.max_retries));
            dest.insert("retry_timeout".into(), dur(d.retry_timeout));
        }
        if d.url.is_s3() {
            dest.insert("checksum".into(), json!(d.checksum.name()));
        }
        encryption_json(&d.encryption, &mut dest);
        let options: Map<String, Value> = d
            .options
            .iter()
            .map(|(k, v)| (k.clone(), json!(shown_option(k, v))))
            .collect();
        dest.insert("options".into(), Value::Object(options));
        top.insert("destination".into(), Value::Object(dest));
        top.insert(
            "retention".into(),
            super::retention::retention_json(&self.retention),
        );
        top.insert(
            "sources".into(),
            self.sources.iter().map(source_json).collect(),
        );
        Value::Object(top)
    }
}

/// The `[destination]` table's encryption keys, in `dest`.
fn encryption_json(e: &super::Encryption, dest: &mut Map<String, Value>) {
    match &e.recipients {
        None => dest.insert("encryption".into(), json!("none")),
        Some(r) => {
            dest.insert("age_recipients".into(), json!(r.texts()));
            dest.insert("encryption".into(), json!("age"))
        }
    };
    if let [one] = e.identity_files.as_slice() {
        dest.insert("identity_file".into(), json!(one.display().to_string()));
    }
}

fn source_json(s: &Source) -> Value {
    let mut v = json!({
        "name": s.name,
        "path": s.path.display().to_string(),
        "include": s.include.patterns(),
        "exclude": s.exclude.patterns(),
        "watch": s.watch,
        "names": s.names.as_str(),
    });
    match &s.closed_by {
        ClosedBy::Quiet => {
            v["closed_by"] = json!("quiet");
            v["min_age"] = json!(humantime::format_duration(s.min_age).to_string());
        }
        ClosedBy::NotNewest => v["closed_by"] = json!("not-newest"),
        ClosedBy::ReadyMarker { dir, suffixes } => {
            v["closed_by"] = json!("ready-marker");
            v["marker_dir"] = json!(dir);
            v["marker_suffixes"] = json!(suffixes);
        }
    }
    match &s.encryption {
        None => v["encryption"] = json!("none"),
        Some(r) => {
            v["encryption"] = json!("age");
            v["age_recipients"] = json!(r.texts());
        }
    }
    match s.codec.compression {
        Compression::None => v["compression"] = json!("none"),
        Compression::Zstd => {
            v["compression"] = json!("zstd");
            v["compression_level"] = json!(s.codec.level);
        }
    }
    if !matches!(s.closed_by, ClosedBy::ReadyMarker { .. }) {
        v["delete_after_archive"] = json!(s
            .delete_after_archive
            .map_or("never".to_string(), |d| humantime::format_duration(d)
                .to_string()));
    }
    v["retention"] = super::retention::keep_json(&s.keep);
    v
}
