//! `logferry --run-once --dry-run`: what one pass of each archive would upload, one line
//! per file and a summary, with nothing written.

use logferry::{human_bytes, preview_once, Preview, SystemClock};

use super::{destination_label, label, open_all};
use crate::output::{error_text, exit_code, EXIT_FILES_FAILED, EXIT_OK};

pub(crate) async fn dry_run(archives: &[logferry::Config]) -> u8 {
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut code = EXIT_OK;
    for (a, store) in &opened {
        let l = label(archives, a);
        match preview_once(a, store, &SystemClock).await {
            Ok(p) => {
                print_files(&l, &p);
                out!("{l}{}", p.summary());
                if !p.unreadable.is_empty() || !p.conflicts.is_empty() {
                    code = code.max(EXIT_FILES_FAILED);
                }
            }
            Err(e) => {
                eprintln!(
                    "logferry: {l}{}{}",
                    destination_label(a, &e),
                    error_text(&e)
                );
                code = code.max(exit_code(&e));
            }
        }
    }
    code
}

/// One line per file the pass would upload, then the ones it could not read or record.
fn print_files(l: &str, p: &Preview) {
    for f in &p.uploads {
        out!(
            "{l}would upload  {:<8} {:>10}  {}",
            f.reason,
            human_bytes(f.size),
            f.file
        );
    }
    for f in &p.conflicts {
        out!("{l}NAME CONFLICT          {}", f.file);
    }
    for f in &p.unreadable {
        out!("{l}cannot read now        {}: {}", f.file, f.reason);
    }
}
