//! The one integration test binary: behaviour through the library against real
//! destinations, and the CLI through the built binary.
// The tests drive real files, servers and processes: their mtimes, waits and deadlines
// are real time, never mixed with a fixed clock (DESIGN.md, house rule 5).
#![allow(clippy::disallowed_methods)]

mod agent;
mod check_config;
mod cleanup;
mod cli;
mod cli_extras;
mod common;
mod concurrency;
mod conformance;
mod encryption;
mod format;
mod format_enc;
mod format_v3;
mod gcs_xml;
mod history;
mod hooks;
mod hosts;
mod install;
mod layers;
mod listings;
mod mariadb;
mod model;
mod named;
mod pass_output;
mod postgres;
mod progress;
mod proxy;
mod regression;
mod remote;
mod restore;
mod retention;
mod service;
mod sources;
mod sse;
mod stat_cache;
mod status;
mod throttle;
mod wal_pass;
mod worm;
