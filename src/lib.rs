//! logferry archives closed log files to object storage, incrementally.
//!
//! A pass scans the configured sources for closed files, compares them with the last
//! committed manifest generation, uploads only new or changed content to content-addressed
//! keys, and then commits the next generation with a create-only put. The binary wraps
//! this in a CLI and a scheduler; the library can run a pass on its own:
//!
//! ```
//! use logferry::{config, store, worker, schedule::SystemClock};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("logs"))?;
//! std::fs::write(dir.path().join("logs/app.log.1"), "rotated line\n")?;
//!
//! let toml = r#"
//!     state_dir = "state"
//!     [destination]
//!     url = "memory://"
//!     [[sources]]
//!     name = "app"
//!     path = "logs"
//!     min_age = "0s"
//! "#;
//! let config = config::from_toml_str(toml, dir.path(), std::iter::empty())?;
//! let store = store::open(&config.destination)?;
//!
//! let first = worker::run_once(&config, &store, &SystemClock).await?;
//! assert_eq!((first.files_uploaded, first.generation), (1, Some(1)));
//!
//! // Nothing changed: nothing is uploaded and no generation is written.
//! let second = worker::run_once(&config, &store, &SystemClock).await?;
//! assert_eq!((second.files_uploaded, second.generation), (0, None));
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod ack;
pub mod agent;
pub mod cli;
pub mod codec;
pub mod config;
pub mod diff;
pub mod digest;
pub mod error;
pub mod hosts;
pub mod index;
pub mod leftovers;
pub mod manifest;
pub mod metrics;
pub mod multipart;
pub mod notify;
pub mod probe;
pub mod prune;
pub mod repair;
pub mod restore;
pub mod retry;
pub mod scan;
pub mod schedule;
pub mod state;
pub mod stats;
pub mod store;
pub mod upload;
pub mod verify;
pub mod watch;
pub mod worker;

pub use error::{Error, Result};
