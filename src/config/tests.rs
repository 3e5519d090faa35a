//! Validation of every config key.

use super::hostname::system_hostname;
use super::limits::{
    default_hash_workers, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE,
    DEFAULT_REQUESTS_IN_FLIGHT, DEPRECATED_UPLOAD_CONCURRENCY,
};
use super::ClosedBy;
use super::*;
use crate::codec::{Codec, Compression};

const GOOD: &str =
    "[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n";

fn parse(text: &str) -> Result<Config> {
    from_toml_str(text, Path::new("/etc/lf"), std::iter::empty())
}

fn bad(text: &str, key: &str, words: &str) {
    let e = parse(text).unwrap_err().to_string();
    assert!(
        e.contains(&format!("key `{key}`")),
        "{text:?} should name `{key}`: {e}"
    );
    assert!(e.contains(words), "{text:?}: `{words}` missing from: {e}");
}

#[test]
fn defaults_are_documented_values() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(c.schedule.text, DEFAULT_SCHEDULE);
    // GOOD's destination is a local mirror: 2 requests per hash worker.
    let local = (2 * default_hash_workers()).clamp(2, DEFAULT_REQUESTS_IN_FLIGHT);
    assert_eq!(
        (c.hash_workers, c.requests_in_flight),
        (default_hash_workers(), local)
    );
    let remote = GOOD.replace("url = \"mirror\"", "url = \"s3://bucket/logs\"");
    assert_ne!(remote, GOOD);
    let c = parse(&remote).unwrap();
    assert_eq!(c.requests_in_flight, DEFAULT_REQUESTS_IN_FLIGHT);
    let c = parse(&format!("hash_workers = 5\n{GOOD}")).unwrap();
    assert_eq!(c.requests_in_flight, 10, "it follows hash_workers");
    let c = parse(&format!("requests_in_flight = 64\n{GOOD}")).unwrap();
    assert_eq!(
        c.requests_in_flight, 64,
        "a value set is kept on a local mirror"
    );
    assert_eq!(
        (c.multipart_threshold, c.part_size),
        (DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE)
    );
    assert_eq!(c.memory_budget(), 128 * 1024 * 1024, "as the README says");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.destination.url,
        DestinationUrl::Local(PathBuf::from("/etc/lf/mirror"))
    );
    let s = &c.sources[0];
    assert_eq!(
        (s.min_age, &s.closed_by),
        (DEFAULT_MIN_AGE, &ClosedBy::Quiet)
    );
    assert_eq!(s.path, PathBuf::from("/etc/lf/logs"));
    assert!(s.include.is_empty() && s.exclude.is_empty());
}

#[test]
fn schedules_with_five_six_and_seven_fields_and_shorthands_parse() {
    for ok in [
        "*/5 * * * *",
        "0 */5 * * * *",
        "0 0 3 * * * 2030",
        "@hourly",
        "@daily",
        "@weekly",
    ] {
        let text = format!("schedule = \"{ok}\"\n{GOOD}");
        let r = parse(&text);
        assert!(r.is_ok(), "{ok}: {:?}", r.err());
        assert_eq!(r.unwrap().schedule.text, ok, "shown as written");
    }
    bad(
        &format!("schedule = \"@sometimes\"\n{GOOD}"),
        "schedule",
        "`@sometimes` is not a shorthand; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly",
    );
}

#[test]
fn every_key_names_itself_when_bad() {
    bad(
        &format!("state_dir = \"\"\n{GOOD}"),
        "state_dir",
        "must not be empty",
    );
    bad(
        &format!("schedule = \"* * *\"\n{GOOD}"),
        "schedule",
        "3 fields",
    );
    bad(
        &format!("schedule = \"*/5 * * * mon-funday\"\n{GOOD}"),
        "schedule",
        "`funday` is not a day",
    );
    bad(
        &format!("schedule = \"0 3 * * 8\"\n{GOOD}"),
        "schedule",
        "weekday `8`: `8` is out of range; use 0-7 (0 and 7 are Sunday, 1 is Monday)",
    );
    bad(
        &format!("schedule = \"0 3 32 * *\"\n{GOOD}"),
        "schedule",
        "not a cron expression",
    );
    bad(
        &format!("upload_concurrency = 1025\n{GOOD}"),
        "upload_concurrency",
        "out of range; use 1 to 1024",
    );
    bad(
        &format!("upload_concurrency = -1\n{GOOD}"),
        "upload_concurrency",
        "out of range",
    );
    bad(
        &format!("part_size = \"8 parsecs\"\n{GOOD}"),
        "part_size",
        "unknown unit",
    );
    bad(
        &format!("part_size = \"lots\"\n{GOOD}"),
        "part_size",
        "not a size",
    );
    bad(
        &format!("part_size = \"10GiB\"\n{GOOD}"),
        "part_size",
        "out of range",
    );
    bad(
        "[destination]\nurl = \"\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.url",
        "empty",
    );
    bad(
        "[destination]\nurl = \"foo:bar\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.url",
        "neither a URL nor a path",
    );
    bad(
        "[destination]\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.url",
        "missing",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\npath = \"l\"",
        "sources[0].name",
        "missing",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\nname = \"..\"\npath = \"l\"",
        "sources[0].name",
        "not allowed",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\nname = \"\"\npath = \"l\"",
        "sources[0].name",
        "empty",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"\"",
        "sources[0].path",
        "empty",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ninclude = [\"a{b\"]",
        "sources[0].include[0]",
        "bad glob",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ninclude = [\"\"]",
        "sources[0].include[0]",
        "empty glob",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\nmin_age = \"-5s\"",
        "sources[0].min_age",
        "not a duration",
    );
    bad("[destination]\nurl = \"gs://b/p\"\n[destination.options]\naws_region = \"x\"\n[[sources]]\nname = \"a\"\npath = \"l\"", "destination.options.aws_region", "unknown option for gs://");
    bad("[destination]\nurl = \"memory://\"\n[destination.options]\nx = \"y\"\n[[sources]]\nname = \"a\"\npath = \"l\"", "destination.options.x", "s3://, gs:// and az://");
    bad(
        &format!("[[sources]]\nname = \"b\"\npath = \"l\"\nfoo = 1\n{GOOD}"),
        "sources[0].foo",
        "unknown field",
    );
}

#[test]
fn environment_overrides_config_keys() {
    let env = [
        ("LOGFERRY_STATE_DIR".to_string(), "/srv/state".to_string()),
        (
            "LOGFERRY_DESTINATION__URL".to_string(),
            "s3://bucket/logs".to_string(),
        ),
        ("LOGFERRY_REQUESTS_IN_FLIGHT".to_string(), "9".to_string()),
        ("LOGFERRY_HASH_WORKERS".to_string(), "3".to_string()),
        (
            "LOGFERRY_MULTIPART_THRESHOLD".to_string(),
            "64MiB".to_string(),
        ),
        ("OTHER".to_string(), "ignored".to_string()),
    ];
    let c = from_toml_str(GOOD, Path::new("/etc/lf"), env).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/srv/state"));
    assert_eq!(
        (c.requests_in_flight, c.hash_workers, c.multipart_threshold),
        (9, 3, 64 << 20)
    );
    assert!(
        matches!(c.destination.url, DestinationUrl::Remote(ref u) if u.as_str() == "s3://bucket/logs")
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

fn with_env(text: &str, env: &[(&str, &str)]) -> Result<Config> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    from_toml_str(text, Path::new("/etc/lf"), env)
}

/// Issue 10: Kubernetes service links (`LOGFERRY_PORT=tcp://…` for a Service named
/// `logferry`) made every command exit 2; a typo'd variable was an error too.
#[test]
fn unknown_env_variables_are_one_warning_each_not_errors() {
    let c = with_env(
        GOOD,
        &[
            ("LOGFERRY_STATEDIR", "/x"),
            ("LOGFERRY_SERVICE_HOST", "10.0.0.1"),
            ("LOGFERRY_PORT", "tcp://10.0.0.1:9090"),
            ("LOGFERRY_PORT_9090_TCP_ADDR", "10.0.0.1"),
            ("LOGFERRY_DESTINATION__URLL", "s3://b/p"),
            ("LOGFERRY_DESTINATION_URL", "s3://b/p"),
            ("LOGFERRY_DESTINATION__OPTIONS_AWS_REGION", "x"),
            ("LOGFERRY_DESTINATION_MAX_RETRIES", "3"),
            ("LOGFERRY_UPLOAD_CONCURRENCY_PER_HOST", "x"),
            ("LOGFERRY_", "x"),
            ("LOGFERRY_A____B", "x"),
        ],
    )
    .unwrap();
    assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(
        c.destination.url,
        DestinationUrl::Local("/etc/lf/mirror".into())
    );
    assert_eq!(c.warnings.len(), 11, "{:#?}", c.warnings);
    for var in [
        "LOGFERRY_STATEDIR`",
        "LOGFERRY_SERVICE_HOST`",
        "LOGFERRY_PORT`",
        "LOGFERRY_PORT_9090_TCP_ADDR`",
        "LOGFERRY_DESTINATION__URLL`",
    ] {
        let hits: Vec<_> = c.warnings.iter().filter(|w| w.contains(var)).collect();
        assert_eq!(hits.len(), 1, "{var}: {:#?}", c.warnings);
        assert!(hits[0].contains("names no config key"), "{}", hits[0]);
    }
    let hint = |var: &str| {
        c.warnings
            .iter()
            .find(|w| w.contains(&format!("`{var}`")))
            .unwrap()
            .clone()
    };
    assert!(
        hint("LOGFERRY_STATEDIR").contains("did you mean `LOGFERRY_STATE_DIR`?"),
        "{}",
        hint("LOGFERRY_STATEDIR")
    );
    assert!(
        hint("LOGFERRY_DESTINATION__URLL").contains("did you mean `LOGFERRY_DESTINATION__URL`?"),
        "{}",
        hint("LOGFERRY_DESTINATION__URLL")
    );
    assert!(
        hint("LOGFERRY_DESTINATION_URL").contains("did you mean `LOGFERRY_DESTINATION__URL`?"),
        "{}",
        hint("LOGFERRY_DESTINATION_URL")
    );
    assert!(
        hint("LOGFERRY_DESTINATION__OPTIONS_AWS_REGION")
            .contains("did you mean `LOGFERRY_DESTINATION__OPTIONS__AWS_REGION`?"),
        "{}",
        hint("LOGFERRY_DESTINATION__OPTIONS_AWS_REGION")
    );
    assert!(
        hint("LOGFERRY_DESTINATION_MAX_RETRIES")
            .contains("did you mean `LOGFERRY_DESTINATION__MAX_RETRIES`?"),
        "{}",
        hint("LOGFERRY_DESTINATION_MAX_RETRIES")
    );
    // Not `LOGFERRY_UPLOAD_CONCURRENCY__PER_HOST`: that names no key either.
    assert!(
        !hint("LOGFERRY_UPLOAD_CONCURRENCY_PER_HOST").contains("did you mean"),
        "{}",
        hint("LOGFERRY_UPLOAD_CONCURRENCY_PER_HOST")
    );
    assert!(
        !hint("LOGFERRY_PORT").contains("did you mean"),
        "{}",
        hint("LOGFERRY_PORT")
    );
    assert!(
        c.warnings.iter().all(|w| !w.contains("10.0.0.1")),
        "values of foreign variables are not repeated: {:#?}",
        c.warnings
    );
}

/// Issue 10: env values were parsed as numbers first (`007` became 7), and a bad value
/// was reported against the file.
#[test]
fn env_values_keep_their_text_and_bad_ones_name_the_variable() {
    const S3: &str = "[destination]\nurl = \"s3://b/p\"\n[[sources]]\nname = \"a\"\npath = \"l\"\n";
    let c = with_env(
        S3,
        &[
            ("LOGFERRY_DESTINATION__OPTIONS__AWS_REGION", "007"),
            ("LOGFERRY_STATE_DIR", "007"),
            ("LOGFERRY_DESTINATION__MAX_RETRIES", "3"),
            ("LOGFERRY_PART_SIZE", "6291456"),
        ],
    )
    .unwrap();
    assert_eq!(c.destination.options["aws_region"], "007");
    assert_eq!(c.state_dir, PathBuf::from("/etc/lf/007"));
    assert_eq!(c.destination.max_retries, 3);
    assert_eq!(c.part_size, 6 * 1024 * 1024);

    let bad = |env: &[(&str, &str)], var: &str, words: &str| {
        let e = with_env(S3, env).unwrap_err();
        assert!(e.is_usage(), "{e}");
        let e = e.to_string();
        assert!(
            e.starts_with(&format!("environment variable {var}: ")),
            "names {var}: {e}"
        );
        assert!(e.contains(words), "`{words}` missing from: {e}");
    };
    bad(
        &[("LOGFERRY_REQUESTS_IN_FLIGHT", "abc")],
        "LOGFERRY_REQUESTS_IN_FLIGHT",
        "expected an integer",
    );
    bad(
        &[("LOGFERRY_UPLOAD_CONCURRENCY", "0")],
        "LOGFERRY_UPLOAD_CONCURRENCY",
        "1 to 1024",
    );
    bad(
        &[("LOGFERRY_SCHEDULE", "* *")],
        "LOGFERRY_SCHEDULE",
        "key `schedule`",
    );
    bad(
        &[("LOGFERRY_DESTINATION__OPTIONS__AWS_REGOIN", "x")],
        "LOGFERRY_DESTINATION__OPTIONS__AWS_REGOIN",
        "unknown option for s3://",
    );
    bad(
        &[("LOGFERRY_SOURCES", "x")],
        "LOGFERRY_SOURCES",
        "expected a sequence",
    );
}

#[test]
fn globs_follow_gitignore_rules() {
    let m = Matcher::new(&["*.gz".into(), "tmp/*.log".into(), "/top.log".into()]).unwrap();
    assert!(m.matches("a.gz") && m.matches("x/y/a.gz"));
    assert!(m.matches("tmp/a.log") && !m.matches("tmp/sub/a.log") && !m.matches("other/tmp/a.log"));
    assert!(m.matches("top.log") && !m.matches("sub/top.log"));
}

#[test]
fn secrets_are_redacted_in_display() {
    let text = "[destination]\nurl = \"az://c/p?sig=SECRETSAS\"\n[destination.options]\nazure_storage_access_key = \"SECRETKEY\"\nazure_storage_account_name = \"acct\"\n[[sources]]\nname = \"a\"\npath = \"l\"";
    let shown = parse(text).unwrap().to_string();
    assert!(
        !shown.contains("SECRETKEY") && !shown.contains("SECRETSAS"),
        "{shown}"
    );
    assert!(
        shown.contains("azure_storage_account_name = \"acct\""),
        "{shown}"
    );
}

/// A `{source}` template was printed as written, so a SAS token in its query string
/// reached `check-config` output.
#[test]
fn a_url_template_is_shown_with_its_secrets_redacted() {
    let text = "[destination]\nurl = \"az://c/{source}?sig=SECRETSAS\"\n[destination.options]\nazure_storage_account_name = \"acct\"\n[[sources]]\nname = \"a\"\npath = \"l\"";
    let c = parse(text).unwrap();
    for shown in [c.to_string(), c.to_json().to_string()] {
        assert!(!shown.contains("SECRETSAS"), "{shown}");
        assert!(shown.contains("az://c/{source}?"), "{shown}");
    }
    let json = c.to_json();
    assert_eq!(
        json["destination"]["options"]["azure_storage_account_name"],
        "acct"
    );
    assert_eq!(json["sources"][0]["name"], "a");
}

#[test]
fn destination_timeouts_and_retries_are_validated() {
    const S3: &str = "[[sources]]\nname = \"a\"\npath = \"l\"\n[destination]\nurl = \"s3://b/p\"\n";
    let c = parse(S3).unwrap();
    assert_eq!(
        (
            c.destination.connect_timeout,
            c.destination.request_timeout,
            c.destination.max_retries,
            c.destination.retry_timeout
        ),
        (
            DEFAULT_CONNECT_TIMEOUT,
            DEFAULT_REQUEST_TIMEOUT,
            DEFAULT_MAX_RETRIES,
            DEFAULT_RETRY_TIMEOUT
        )
    );
    let c = parse(&format!("{S3}connect_timeout = \"2s\"\nrequest_timeout = \"5m\"\nmax_retries = 0\nretry_timeout = \"30s\"")).unwrap();
    assert_eq!(c.destination.max_retries, 0);
    assert_eq!(c.destination.request_timeout, Duration::from_secs(300));
    bad(
        &format!("{S3}connect_timeout = \"soon\""),
        "destination.connect_timeout",
        "not a duration",
    );
    bad(
        &format!("{S3}request_timeout = \"0s\""),
        "destination.request_timeout",
        "more than zero",
    );
    bad(
        &format!("{S3}retry_timeout = \"-1s\""),
        "destination.retry_timeout",
        "not a duration",
    );
    bad(
        &format!("{S3}max_retries = 1000"),
        "destination.max_retries",
        "0 to 100",
    );
    bad(
        &format!("{S3}max_retries = \"many\""),
        "destination.max_retries",
        "expected an integer",
    );
    bad(
        "[destination]\nurl = \"mirror\"\nmax_retries = 3\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.max_retries",
        "s3://, gs:// and az:// destinations only",
    );
}

#[test]
fn the_upload_checksum_is_sha256_unless_turned_off_on_s3() {
    const S3: &str = "[[sources]]\nname = \"a\"\npath = \"l\"\n[destination]\nurl = \"s3://b/p\"\n";
    assert_eq!(
        parse(S3).unwrap().destination.checksum,
        UploadChecksum::Sha256
    );
    let off = parse(&format!("{S3}checksum = \"none\"")).unwrap();
    assert_eq!(off.destination.checksum, UploadChecksum::None);
    assert!(off.to_string().contains("checksum = \"none\""), "{off}");
    let env = [(
        "LOGFERRY_DESTINATION__CHECKSUM".to_string(),
        "none".to_string(),
    )];
    let from_env = from_toml_str(S3, Path::new("/etc/lf"), env).unwrap();
    assert_eq!(from_env.destination.checksum, UploadChecksum::None);
    bad(
        &format!("{S3}checksum = \"md5\""),
        "destination.checksum",
        "`md5` is not a checksum; use \"sha256\" (the default) or \"none\"",
    );
    bad(
        &format!("{S3}checksum = \"none\"\n[destination.options]\naws_checksum_algorithm = \"crc64nvme\""),
        "destination.checksum",
        "\"none\" contradicts destination.options.aws_checksum_algorithm",
    );
    bad(
        "[destination]\nurl = \"az://c/p\"\nchecksum = \"sha256\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.checksum",
        "applies to s3:// destinations only",
    );
    bad(
        "[destination]\nurl = \"mirror\"\nchecksum = \"none\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.checksum",
        "applies to s3:// destinations only",
    );
    let chosen = parse(&format!(
        "{S3}[destination.options]\naws_checksum_algorithm = \"crc64nvme\""
    ))
    .unwrap();
    assert_eq!(
        chosen.destination.options["aws_checksum_algorithm"],
        "crc64nvme"
    );
}

#[test]
fn url_templates_expand_hostname_and_split_by_source() {
    let host = system_hostname().unwrap();
    let text = "[destination]\nurl = \"s3://b/fleet/{hostname}/{source}\"\n[[sources]]\nname = \"app\"\npath = \"l\"\n[[sources]]\nname = \"db\"\npath = \"d\"";
    let c = parse(text).unwrap();
    assert_eq!(
        c.destination.template.as_deref(),
        Some(format!("s3://b/fleet/{host}/{{source}}").as_str())
    );
    let archives = c.archives().unwrap();
    assert_eq!(archives.len(), 2);
    for (a, name) in archives.iter().zip(["app", "db"]) {
        assert_eq!(
            a.destination.url.to_string(),
            format!("s3://b/fleet/{host}/{name}")
        );
        assert_eq!(a.state_dir, PathBuf::from(DEFAULT_STATE_DIR).join(name));
        assert_eq!(a.sources.len(), 1);
        assert!(a.destination.template.is_none());
    }
    let plain = parse(GOOD).unwrap();
    assert_eq!(plain.archives().unwrap().len(), 1);
    bad(
        "[destination]\nurl = \"s3://b/{host}\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.url",
        "unknown placeholder `{host}`",
    );
    let local =
        parse("[destination]\nurl = \"mirror-{source}\"\n[[sources]]\nname = \"a\"\npath = \"l\"")
            .unwrap();
    assert_eq!(
        local.archives().unwrap()[0].destination.url,
        DestinationUrl::Local(PathBuf::from("/etc/lf/mirror-a"))
    );
}

#[test]
fn service_keys_are_validated() {
    let c = parse(GOOD).unwrap();
    assert_eq!(
        (c.jitter, c.shutdown_grace, c.log_format),
        (Duration::ZERO, DEFAULT_SHUTDOWN_GRACE, LogFormat::Text)
    );
    assert!(c.metrics_listen.is_none() && c.metrics_textfile.is_none());
    let c = parse(&format!(
        "interval = \"5m\"\njitter = \"30s\"\nshutdown_grace = \"10s\"\nmetrics_listen = \"127.0.0.1:9898\"\nmetrics_textfile = \"m/logferry.prom\"\nlog_format = \"json\"\n{GOOD}"
    ))
    .unwrap();
    assert!(matches!(c.schedule.kind, ScheduleKind::Interval(d) if d == Duration::from_secs(300)));
    assert_eq!(
        c.metrics_textfile,
        Some(PathBuf::from("/etc/lf/m/logferry.prom"))
    );
    assert_eq!(c.log_format, LogFormat::Json);
    let c = parse(&format!("timezone = \"Europe/Berlin\"\n{GOOD}")).unwrap();
    assert!(
        matches!(c.schedule.kind, ScheduleKind::Cron(_, Some(tz)) if tz.name() == "Europe/Berlin")
    );
    bad(
        &format!("schedule = \"* * * * *\"\ninterval = \"5m\"\n{GOOD}"),
        "interval",
        "keep one",
    );
    bad(
        &format!("interval = \"soon\"\n{GOOD}"),
        "interval",
        "not a duration",
    );
    bad(
        &format!("interval = \"10ms\"\n{GOOD}"),
        "interval",
        "shorter than 1s",
    );
    bad(
        &format!("timezone = \"Mars/Olympus\"\n{GOOD}"),
        "timezone",
        "IANA",
    );
    bad(
        &format!("interval = \"5m\"\ntimezone = \"UTC\"\n{GOOD}"),
        "timezone",
        "not to `interval`",
    );
    bad(
        &format!("jitter = \"a bit\"\n{GOOD}"),
        "jitter",
        "not a duration",
    );
    bad(
        &format!("shutdown_grace = \"forever\"\n{GOOD}"),
        "shutdown_grace",
        "not a duration",
    );
    bad(
        &format!("metrics_listen = \"9898\"\n{GOOD}"),
        "metrics_listen",
        "address:port",
    );
    bad(
        &format!("metrics_textfile = \"m/logferry.txt\"\n{GOOD}"),
        "metrics_textfile",
        ".prom",
    );
    bad(
        &format!("log_format = \"xml\"\n{GOOD}"),
        "log_format",
        "\"text\" or \"json\"",
    );
    bad(
        "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\nwatch = \"yes\"",
        "sources[0].watch",
        "invalid type",
    );
}

#[test]
fn compression_is_set_per_destination_and_overridden_per_source() {
    let text = "[destination]\nurl = \"mirror\"\ncompression = \"zstd\"\ncompression_level = 7\n[[sources]]\nname = \"a\"\npath = \"l\"\n[[sources]]\nname = \"b\"\npath = \"m\"\ncompression = \"none\"\n[[sources]]\nname = \"c\"\npath = \"n\"\ncompression_level = 19\n";
    let c = parse(text).unwrap();
    let codecs: Vec<Codec> = c.sources.iter().map(|s| s.codec).collect();
    assert_eq!(
        codecs[0],
        Codec {
            compression: Compression::Zstd,
            level: 7
        }
    );
    assert_eq!(codecs[1].compression, Compression::None);
    assert_eq!(
        codecs[2],
        Codec {
            compression: Compression::Zstd,
            level: 19
        }
    );
    assert_eq!(parse(GOOD).unwrap().sources[0].codec, Codec::PLAIN);
    let z = parse("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ncompression = \"zstd\"").unwrap();
    assert_eq!(
        z.sources[0].codec,
        Codec {
            compression: Compression::Zstd,
            level: DEFAULT_ZSTD_LEVEL
        }
    );
    bad("[destination]\nurl = \"m\"\ncompression = \"gzip\"\n[[sources]]\nname = \"a\"\npath = \"l\"", "destination.compression", "\"zstd\" or \"none\"");
    bad("[destination]\nurl = \"m\"\ncompression_level = 30\n[[sources]]\nname = \"a\"\npath = \"l\"", "destination.compression_level", "1 to 22");
    bad("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ncompression = \"lz4\"", "sources[0].compression", "\"zstd\" or \"none\"");
    bad("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ncompression_level = 0", "sources[0].compression_level", "1 to 22");
}

#[test]
fn closed_by_rules_and_their_keys() {
    let src = |extra: &str| {
        format!("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\n{extra}")
    };
    let c = parse(&src("closed_by = \"ready-marker\"")).unwrap();
    assert_eq!(
        c.sources[0].closed_by,
        ClosedBy::ReadyMarker {
            dir: "archive_status".into(),
            suffixes: vec![".ready".into(), ".done".into()]
        }
    );
    let c = parse(&src(
        "closed_by = \"ready-marker\"\nmarker_dir = \"status\"\nmarker_suffixes = [\".ok\"]",
    ))
    .unwrap();
    assert_eq!(
        c.sources[0].closed_by,
        ClosedBy::ReadyMarker {
            dir: "status".into(),
            suffixes: vec![".ok".into()]
        }
    );
    assert_eq!(
        parse(&src("closed_by = \"not-newest\"")).unwrap().sources[0].closed_by,
        ClosedBy::NotNewest
    );
    bad(
        &src("ignore_newest = true"),
        "sources[0].ignore_newest",
        "closed_by = \"not-newest\"",
    );
    bad(
        &src("closed_by = \"sometimes\""),
        "sources[0].closed_by",
        "not a rule",
    );
    bad(
        &src("marker_dir = \"x\""),
        "sources[0].marker_dir",
        "ready-marker",
    );
    bad(
        &src("closed_by = \"not-newest\"\nmin_age = \"5s\""),
        "sources[0].min_age",
        "quiet",
    );
    bad(
        &src("closed_by = \"ready-marker\"\nmarker_dir = \"a/b\""),
        "sources[0].marker_dir",
        "one directory name",
    );
    bad(
        &src("closed_by = \"ready-marker\"\nmarker_suffixes = []"),
        "sources[0].marker_suffixes",
        "at least one",
    );
}

#[test]
fn for_hostname_reads_another_hosts_prefix_and_needs_the_placeholder() {
    let text = "[destination]\nurl = \"s3://b/fleet/{hostname}/{source}\"\n[[sources]]\nname = \"app\"\npath = \"l\"\n[[sources]]\nname = \"db\"\npath = \"d\"";
    let other = parse(text).unwrap().for_hostname("db-1").unwrap();
    let urls: Vec<String> = other
        .archives()
        .unwrap()
        .iter()
        .map(|a| a.destination.url.to_string())
        .collect();
    assert_eq!(urls, ["s3://b/fleet/db-1/app", "s3://b/fleet/db-1/db"]);
    let e = parse(GOOD).unwrap().for_hostname("db-1").unwrap_err();
    assert!(e.is_usage());
    assert!(e.to_string().contains("has no {hostname}"), "{e}");
    for name in ["", "..", "a/b", "a b", "{source}"] {
        assert!(check_hostname(name).is_err(), "{name:?}");
    }
    assert!(check_hostname("db-1.example.com").is_ok());
}

#[test]
fn delete_after_archive_is_a_duration_and_never_for_ready_marker() {
    let src = |extra: &str| {
        format!("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\n{extra}")
    };
    assert_eq!(
        parse(&src("")).unwrap().sources[0].delete_after_archive,
        None
    );
    assert_eq!(
        parse(&src("delete_after_archive = \"never\""))
            .unwrap()
            .sources[0]
            .delete_after_archive,
        None
    );
    assert_eq!(
        parse(&src("delete_after_archive = \"3days\""))
            .unwrap()
            .sources[0]
            .delete_after_archive,
        Some(Duration::from_secs(3 * 86400))
    );
    bad(
        &src("delete_after_archive = \"soon\""),
        "sources[0].delete_after_archive",
        "`soon` is not a duration",
    );
    bad(
        &src("delete_after_archive = \"-1d\""),
        "sources[0].delete_after_archive",
        "not a duration",
    );
    bad(
        &src("closed_by = \"ready-marker\"\ndelete_after_archive = \"1d\""),
        "sources[0].delete_after_archive",
        "PostgreSQL owns its WAL files",
    );
    let c = parse(&src(
        "closed_by = \"not-newest\"\ndelete_after_archive = \"12h\"",
    ))
    .unwrap();
    let shown = c.to_string();
    assert!(shown.contains("delete_after_archive = \"12h\""), "{shown}");
    assert_eq!(c.to_json()["sources"][0]["delete_after_archive"], "12h");
    assert!(parse(GOOD)
        .unwrap()
        .to_string()
        .contains("delete_after_archive = \"never\""));
}

fn warnings_of(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .warnings
}

fn warns(text: &str, key: &str, words: &str) {
    let w = warnings_of(text);
    assert!(
        w.iter()
            .any(|w| w.starts_with(&format!("key `{key}`: ")) && w.contains(words)),
        "{text:?}: no warning about `{key}` with `{words}`: {w:?}"
    );
}

const DEST: &str = "[destination]\nurl = \"mirror\"\n";

#[test]
fn a_path_starting_with_a_tilde_is_refused() {
    bad(
        &format!("state_dir = \"~/state\"\n{GOOD}"),
        "state_dir",
        "`~/state` starts with `~`, which logferry does not expand (it would name a directory called `~`); write the absolute path, e.g. \"/home/USER/state\"",
    );
    bad(
        &format!("metrics_textfile = \"~/m.prom\"\n{GOOD}"),
        "metrics_textfile",
        "starts with `~`",
    );
    bad(
        "[destination]\nurl = \"~/archive\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.url",
        "write the absolute path, e.g. \"/home/USER/archive\"",
    );
    bad(
        &format!("{DEST}[[sources]]\nname = \"a\"\npath = \"~\""),
        "sources[0].path",
        "e.g. \"/home/USER\"",
    );
}

#[test]
fn an_empty_include_list_is_refused() {
    bad(
        &format!("{DEST}[[sources]]\nname = \"a\"\npath = \"l\"\ninclude = []"),
        "sources[0].include",
        "is an empty list; leave the key out to take every file, or list the patterns to take, e.g. [\"*.log.*\"]",
    );
}

#[test]
fn globs_that_can_never_match_are_reported() {
    bad(
        &format!("{DEST}[[sources]]\nname = \"a\"\npath = \"/var/log/app\"\ninclude = [\"/var/log/app/*.log\"]"),
        "sources[0].include[0]",
        "`/var/log/app/*.log` is an absolute path, but patterns are relative to `path` (`/var/log/app`) and this one can never match; write \"*.log\"",
    );
    bad(
        &format!("{DEST}[[sources]]\nname = \"a\"\npath = \"/var/log/app\"\nexclude = [\"x\", \"/var/log/app/tmp/*\"]"),
        "sources[0].exclude[1]",
        "write \"tmp/*\"",
    );
    let src =
        |globs: &str| format!("{DEST}[[sources]]\nname = \"a\"\npath = \"/var/log/app\"\n{globs}");
    warns(
        &src("include = [\"/var/log/*.gz\"]"),
        "sources[0].include[0]",
        "`/var/log/*.gz` looks like an absolute path, but patterns are relative to `path` (`/var/log/app`; a leading `/` anchors to its top), so it matches only `/var/log/app/var/log/*.gz`",
    );
    warns(
        &src("include = [\"*.gz\", \"*.log.*\"]\nexclude = [\"*.tmp\", \"*.log.*\"]"),
        "sources[0].include[1]",
        "`*.log.*` takes no file: `sources[0].exclude[1]` (`*.log.*`) excludes every file it matches; remove one of them",
    );
    warns(
        &src("exclude = [\"**\"]"),
        "sources[0].exclude[0]",
        "`**` excludes every file, so the source archives nothing",
    );
    assert!(warnings_of(&src(
        "include = [\"/current.log\", \"*.gz\"]\nexclude = [\"*.tmp\"]"
    ))
    .is_empty());
    assert!(warnings_of(&format!(
        "{DEST}[[sources]]\nname = \"a\"\npath = \"/\"\ninclude = [\"/var/log/*.gz\"]"
    ))
    .is_empty());
}

#[test]
fn a_compression_level_without_zstd_is_a_warning() {
    warns(
        "[destination]\nurl = \"m\"\ncompression_level = 9\n[[sources]]\nname = \"a\"\npath = \"l\"",
        "destination.compression_level",
        "has no effect: compression is \"none\"; set destination.compression = \"zstd\" to compress, or remove the level",
    );
    warns(
        &format!("{DEST}[[sources]]\nname = \"a\"\npath = \"l\"\ncompression_level = 9"),
        "sources[0].compression_level",
        "set sources[0].compression = \"zstd\"",
    );
    warns(
        "[destination]\nurl = \"m\"\ncompression = \"zstd\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ncompression = \"none\"\ncompression_level = 9",
        "sources[0].compression_level",
        "has no effect",
    );
    let fine = "[destination]\nurl = \"m\"\ncompression = \"zstd\"\ncompression_level = 9\n[[sources]]\nname = \"a\"\npath = \"l\"\ncompression_level = 5";
    assert!(warnings_of(fine).is_empty(), "{:?}", warnings_of(fine));
}

#[test]
fn a_six_field_schedule_every_few_seconds_is_a_warning() {
    warns(
        &format!("schedule = \"*/5 * * * * *\"\n{GOOD}"),
        "schedule",
        "`*/5 * * * * *` runs a pass every 5 seconds: with 6 fields the first is seconds; for crontab's meaning write the 5 fields \"*/5 * * * *\"",
    );
    warns(
        &format!("schedule = \"* */5 * * * *\"\n{GOOD}"),
        "schedule",
        "runs a pass every second",
    );
    for quiet in ["0 */5 * * * *", "*/5 * * * *", "30 0 3 * * *"] {
        let w = warnings_of(&format!("schedule = \"{quiet}\"\n{GOOD}"));
        assert!(w.is_empty(), "{quiet}: {w:?}");
    }
}

#[test]
fn hooks_and_heartbeat_default_to_none_and_are_validated() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.hooks, PassHooks::default());
    assert_eq!(c.hooks.timeout, DEFAULT_HOOK_TIMEOUT);
    assert!(c.heartbeat.is_none());
    let c = parse(&format!(
        "heartbeat_url = \"https://hc-ping.com/0f2a7c1e-5b7d\"\n[hooks]\npre_pass = \"exit 0\"\npost_pass = \"cat\"\ntimeout = \"30s\"\n{GOOD}"
    ))
    .unwrap();
    assert_eq!(c.hooks.pre_pass.as_deref(), Some("exit 0"));
    assert_eq!(c.hooks.post_pass.as_deref(), Some("cat"));
    assert_eq!(c.hooks.timeout, Duration::from_secs(30));
    assert_eq!(
        c.heartbeat.as_ref().unwrap().fail_url().as_str(),
        "https://hc-ping.com/0f2a7c1e-5b7d/fail"
    );
    let hooks = |body: &str| format!("[hooks]\n{body}\n{GOOD}");
    bad(
        &hooks("pre_pass = \"\""),
        "hooks.pre_pass",
        "must not be empty; write a command for /bin/sh -c",
    );
    bad(
        &hooks("post_pass = \"  \""),
        "hooks.post_pass",
        "or remove the key",
    );
    bad(
        &hooks("timeout = \"0s\""),
        "hooks.timeout",
        "must be more than zero",
    );
    bad(
        &hooks("timeout = \"soon\""),
        "hooks.timeout",
        "`soon` is not a duration",
    );
    bad(&hooks("pre_pas = \"x\""), "hooks.pre_pas", "unknown field");
    let hb = |url: &str| format!("heartbeat_url = \"{url}\"\n{GOOD}");
    bad(
        &hb("ftp://h/secret-token"),
        "heartbeat_url",
        "scheme `ftp` is not supported",
    );
    bad(
        &hb("hc-ping.com/secret-token"),
        "heartbeat_url",
        "not a URL",
    );
    // The value is never echoed: its path is the monitor's secret.
    let e = parse(&hb("ftp://h/secret-token")).unwrap_err().to_string();
    assert!(!e.contains("secret-token"), "{e}");
}

#[test]
fn the_heartbeat_url_is_shown_as_scheme_and_host_only() {
    let c = parse(&format!(
        "heartbeat_url = \"https://hc-ping.com/0f2a7c1e-5b7d-4e1a\"\n[hooks]\npre_pass = \"exit 0\"\n{GOOD}"
    ))
    .unwrap();
    let text = c.to_string();
    assert!(
        text.contains("heartbeat_url = \"https://hc-ping.com/<redacted>\""),
        "{text}"
    );
    assert!(
        text.contains("[hooks]\npre_pass = \"exit 0\"\n# post_pass: none\ntimeout = \"5m\""),
        "{text}"
    );
    let json = c.to_json().to_string();
    assert!(
        !json.contains("0f2a7c1e") && !text.contains("0f2a7c1e"),
        "{json}"
    );
    assert_eq!(c.to_json()["hooks"]["timeout"], "5m");
    assert_eq!(
        c.to_json()["heartbeat_url"],
        "https://hc-ping.com/<redacted>"
    );
}

#[test]
fn hooks_are_set_from_the_environment_and_pass_variables_are_not_config() {
    let c = with_env(
        GOOD,
        &[
            ("LOGFERRY_HOOKS__PRE_PASS", "test -e /run/primary"),
            ("LOGFERRY_HOOKS__TIMEOUT", "10s"),
            ("LOGFERRY_HEARTBEAT_URL", "http://127.0.0.1:8000/ping/abc"),
            ("LOGFERRY_PASS_OUTCOME", "ok"),
            ("LOGFERRY_PASS_STATE_DIR", "/elsewhere"),
        ],
    )
    .unwrap();
    assert_eq!(c.hooks.pre_pass.as_deref(), Some("test -e /run/primary"));
    assert_eq!(c.hooks.timeout, Duration::from_secs(10));
    assert!(c.heartbeat.is_some());
    assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // A bad heartbeat URL from the environment names the variable, never its value.
    let e = with_env(GOOD, &[("LOGFERRY_HEARTBEAT_URL", "gopher://h/tok-123456")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("environment variable LOGFERRY_HEARTBEAT_URL: "),
        "{e}"
    );
    assert!(!e.contains("tok-123456"), "{e}");
    // `LOGFERRY_PASS_*` stays the hooks' own only while no key starts with `pass_`.
    let e = raw::deserialize(serde_json::json!({"zz": 1}), &None)
        .unwrap_err()
        .to_string();
    let keys: Vec<&str> = e.split('`').skip(3).step_by(2).collect();
    assert!(keys.contains(&"heartbeat_url"), "{e}");
    assert!(keys.iter().all(|k| !k.starts_with("pass_")), "{keys:?}");
}

#[test]
fn each_pass_limit_names_itself_when_bad() {
    for (text, key, words) in [
        ("hash_workers = 0", "hash_workers", "0 is out of range; use 1 to 256 (default the number of CPUs)"),
        ("hash_workers = 257", "hash_workers", "use 1 to 256"),
        ("hash_workers = \"two\"", "hash_workers", "expected an integer"),
        ("requests_in_flight = 0", "requests_in_flight", "0 is out of range; use 1 to 1024 (default 32; 2 per hash worker for a local mirror)"),
        ("requests_in_flight = 1025", "requests_in_flight", "use 1 to 1024"),
        ("upload_concurrency = 0", "upload_concurrency", "use 1 to 1024"),
        ("multipart_threshold = \"4MiB\"", "multipart_threshold", "out of range; use 5MiB to 5GiB (default 32MiB)"),
        ("multipart_threshold = \"6GiB\"", "multipart_threshold", "out of range; use 5MiB to 5GiB"),
        ("multipart_threshold = \"big\"", "multipart_threshold", "not a size"),
        (
            "part_size = \"16MiB\"\nmultipart_threshold = \"8MiB\"",
            "multipart_threshold",
            "below part_size (16777216 bytes), so a file between the two would go up as one part of a multipart upload; raise multipart_threshold to at least part_size, or lower part_size",
        ),
    ] {
        bad(&format!("{text}\n{GOOD}"), key, words);
    }
}

#[test]
fn upload_concurrency_is_the_old_name_of_requests_in_flight() {
    let c = parse(&format!("upload_concurrency = 7\n{GOOD}")).unwrap();
    assert_eq!(c.requests_in_flight, 7);
    assert_eq!(
        c.hash_workers,
        default_hash_workers(),
        "not what it sets now"
    );
    assert_eq!(c.warnings, vec![DEPRECATED_UPLOAD_CONCURRENCY.to_string()]);
    let w = &c.warnings[0];
    for words in [
        "`upload_concurrency` is deprecated",
        "`requests_in_flight` (requests to the destination at once",
        "`hash_workers` (default: one per CPU)",
    ] {
        assert!(w.contains(words), "{words:?} missing from {w}");
    }
    assert!(!w.contains('\n'), "one line: {w}");
    bad(
        &format!("upload_concurrency = 4\nrequests_in_flight = 8\n{GOOD}"),
        "upload_concurrency",
        "both `upload_concurrency` and `requests_in_flight` are set; `upload_concurrency` is the old name of `requests_in_flight`: remove it",
    );
    // The environment may use the old name too, and set both with the file.
    let c = with_env(GOOD, &[("LOGFERRY_UPLOAD_CONCURRENCY", "5")]).unwrap();
    assert_eq!(c.requests_in_flight, 5);
    assert_eq!(c.warnings, vec![DEPRECATED_UPLOAD_CONCURRENCY.to_string()]);
    let e = with_env(
        &format!("requests_in_flight = 8\n{GOOD}"),
        &[("LOGFERRY_UPLOAD_CONCURRENCY", "5")],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("LOGFERRY_UPLOAD_CONCURRENCY") && e.contains("requests_in_flight"),
        "{e}"
    );
}

#[test]
fn the_multipart_threshold_follows_a_larger_part_size_and_sets_the_memory_budget() {
    let c = parse(&format!("part_size = \"64MiB\"\n{GOOD}")).unwrap();
    assert_eq!(c.multipart_threshold, 64 << 20, "never below part_size");
    assert_eq!(c.memory_budget(), 256 << 20);
    let c = parse(&format!(
        "multipart_threshold = \"8MiB\"\npart_size = \"5MiB\"\n{GOOD}"
    ))
    .unwrap();
    assert_eq!((c.multipart_threshold, c.part_size), (8 << 20, 5 << 20));
    assert_eq!(c.memory_budget(), 32 << 20);
}
