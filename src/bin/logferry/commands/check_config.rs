//! `logferry check-config`: the config as logferry understands it (secrets redacted),
//! the archives of a `{source}` template, the next passes, what the file system says
//! about its paths (a missing source directory, a state dir that cannot be written),
//! and with `--probe` whether the destination does what a pass needs.

use logferry::{
    check_future_tick, next_passes, preflight_config, probe, rfc3339_in, Clock, Config, ProbeCheck,
    Severity, SystemClock,
};

use super::{label, open_all};
use crate::args::CheckConfigArgs;
use crate::host_seed;
use crate::output::{fail, EXIT_CANNOT_RUN, EXIT_OK};

pub(crate) async fn check_config(
    config: &Config,
    archives: &[Config],
    args: &CheckConfigArgs,
) -> u8 {
    let now = SystemClock.now();
    if let Err(e) = check_future_tick(config, now) {
        return fail(&e);
    }
    if let Err(code) = check_paths(config) {
        return code;
    }
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let passes: Vec<String> = next_passes(&config.schedule, config.jitter, host_seed(), now, 3)
        .into_iter()
        .map(|t| rfc3339_in(&config.schedule, t))
        .collect();
    if !args.json {
        print_config(config, archives, &passes);
    }
    let mut probes = Vec::new();
    let mut code = EXIT_OK;
    if args.probe {
        for (a, store) in &opened {
            let checks = probe(store, &a.destination).await;
            if !checks.iter().all(|c| c.ok) {
                code = EXIT_CANNOT_RUN;
            }
            if !args.json {
                print_probe(archives, a, &checks);
            }
            probes.push((a, checks));
        }
    }
    if args.json {
        let v = config_json(config, archives, &passes, args.probe.then_some(&probes[..]));
        out!("{}", serde_json::to_string_pretty(&v).expect("json prints"));
    }
    code
}

/// The file system's findings about the config's paths: a warning as a log line, an
/// error as the one a bad value gets (exit 2), after every finding is shown.
fn check_paths(config: &Config) -> Result<(), u8> {
    let mut code = None;
    for f in preflight_config(config) {
        match f.severity {
            Severity::Error => code = Some(fail(&config.key_error(&f.key, f.message))),
            _ => tracing::warn!("{f}"),
        }
    }
    code.map_or(Ok(()), Err)
}

/// `check-config --json`: the effective config, the next passes, the archives of a
/// `{source}` template and the probe results.
fn config_json(
    config: &Config,
    archives: &[Config],
    passes: &[String],
    probes: Option<&[(&Config, Vec<ProbeCheck>)]>,
) -> serde_json::Value {
    use serde_json::json;
    let mut v = config.to_json();
    v["next_passes"] = json!(passes);
    if archives.len() > 1 {
        v["archives"] = archives
            .iter()
            .map(|a| {
                json!({
                    "source": a.sources[0].name,
                    "url": a.destination.url.to_string(),
                    "state_dir": a.state_dir.display().to_string(),
                })
            })
            .collect();
    }
    if let Some(probes) = probes {
        v["probe"] = probes
            .iter()
            .map(|(a, checks)| {
                let checks: Vec<_> = checks
                    .iter()
                    .map(
                        |c| json!({"name": c.name, "ok": c.ok, "detail": c.detail, "hint": c.hint}),
                    )
                    .collect();
                json!({"url": a.destination.url.to_string(), "checks": checks})
            })
            .collect();
    }
    v
}

/// The effective config as TOML, then the archives and the next passes as comments.
fn print_config(config: &Config, archives: &[Config], passes: &[String]) {
    out!("{}", config.to_string().trim_end());
    if archives.len() > 1 {
        out!("\n# one archive per source:");
        for a in archives {
            out!(
                "#   {} -> {} (state {})",
                a.sources[0].name,
                a.destination.url,
                a.state_dir.display()
            );
        }
    }
    out!("\n# next passes:");
    for p in passes {
        out!("#   {p}");
    }
}

fn print_probe(archives: &[Config], a: &Config, checks: &[ProbeCheck]) {
    out!("\nprobe {}{}:", label(archives, a), a.destination.url);
    for c in checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        match &c.hint {
            Some(h) if !c.ok => out!("  {mark} {}: {} (hint: {h})", c.name, c.detail),
            _ => out!("  {mark} {}: {}", c.name, c.detail),
        }
    }
}
