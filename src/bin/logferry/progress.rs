//! The progress bar of a `--run-once` pass on a terminal: a spinner while the pass scans
//! the sources, then files and bytes read and uploaded against what the plan named, with
//! the rate and the time left. The pass itself knows nothing of it: a thread here reads
//! the pass's [`Control::progress`] a few times a second and draws it.

use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use logferry::{
    run_once_with, Config, Control, Limiter, PassProgress, Result, RunReport, Store, SystemClock,
};

use crate::output::{bytes_style, leave_bar, progress_bar};

/// How often the bar is brought up to date with the pass.
const TICK: Duration = Duration::from_millis(100);

/// [`logferry::run_once`] with a progress bar on stderr when it is a terminal. The bar's
/// last state is left on screen above the summary (or the error) the caller prints.
pub(crate) async fn run_once(a: &Config, store: &Store, limiter: &Limiter) -> Result<RunReport> {
    let control = Control::default().with_limiter(limiter.clone());
    let bar = progress_bar("", 0, false);
    if bar.is_hidden() {
        return run_once_with(a, store, &SystemClock, &control).await;
    }
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
    bar.set_message("scanning the sources");
    let (stop, stopped) = mpsc::channel::<()>();
    let drawer = {
        let (bar, control) = (bar.clone(), control.clone());
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                match control.progress() {
                    Some(p) => show(&bar, p),
                    None => bar.tick(),
                }
            }
        })
    };
    let result = run_once_with(a, store, &SystemClock, &control).await;
    drop(stop);
    let _ = drawer.join();
    match control.progress() {
        // Where it ended (or stopped, above the error).
        Some(p) => {
            show(&bar, p);
            leave_bar(&bar);
        }
        // Nothing was read: the summary says so.
        None => bar.finish_and_clear(),
    }
    result
}

/// Draws `p` on `bar`, switching from the scanning spinner on the first call.
fn show(bar: &ProgressBar, p: PassProgress) {
    // The spinner has no prefix; the bar always has one.
    let spinning = bar.prefix().is_empty();
    bar.set_prefix(format!(
        "archiving {}/{} files",
        p.files_done, p.files_total
    ));
    bar.set_length(p.bytes_total);
    if spinning {
        bar.set_style(bytes_style());
    }
    bar.set_position(p.bytes_done);
}
