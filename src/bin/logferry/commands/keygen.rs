//! `logferry keygen --output FILE`: an age key pair for client-side encryption, so a
//! host needs no other tool. The private key goes to a new owner-only file; the public
//! key, which is what archiving hosts are given, to stdout.

use crate::args::KeygenArgs;
use crate::output::{EXIT_CANNOT_RUN, EXIT_OK};

pub(crate) fn keygen(args: &KeygenArgs) -> u8 {
    match logferry::write_identity(&args.output) {
        Ok(public) => {
            eprintln!(
                "logferry: wrote the private key to {} (mode 600); its public key, for age_recipients:",
                args.output.display()
            );
            println!("{public}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("logferry: {e}");
            EXIT_CANNOT_RUN
        }
    }
}
