//! `logferry re-encrypt`: puts archived content again for the recipients configured
//! now (see [`logferry::re_encrypt`]), archive by archive, and says what it did.

use logferry::{human_bytes, re_encrypt, Config, SystemClock};

use super::{label, open_all, say_failed};
use crate::args::ReEncryptArgs;
use crate::output::{EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_OK};

pub(crate) async fn run_re_encrypt(archives: &[Config], args: &ReEncryptArgs) -> u8 {
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut code = EXIT_OK;
    for (a, store) in &opened {
        if !a.destination.encryption.encrypts() {
            eprintln!(
                "logferry: {}no source encrypts: set encryption = \"age\" and age_recipients first",
                label(archives, a)
            );
            code = code.max(EXIT_CANNOT_RUN);
            continue;
        }
        match re_encrypt(a, store, &SystemClock, args.dry_run).await {
            Ok(r) => {
                for (file, why) in &r.failed {
                    eprintln!("FAILED  {file}: {why}");
                }
                let verb = if args.dry_run {
                    "would re-encrypt"
                } else {
                    "re-encrypted"
                };
                let committed = r
                    .generation
                    .map_or(String::new(), |g| format!(", generation {g}"));
                println!(
                    "{}{verb} {} files ({}){committed}; {} already for the current recipients, {} of sources that do not encrypt, {} failed",
                    label(archives, a),
                    r.re_encrypted,
                    human_bytes(r.bytes),
                    r.current,
                    r.unencrypted_sources,
                    r.failed.len()
                );
                if !r.failed.is_empty() {
                    code = code.max(EXIT_FILES_FAILED);
                }
            }
            Err(e) => {
                say_failed(archives, a, &e);
                code = code.max(EXIT_CANNOT_RUN);
            }
        }
    }
    code
}
