//! The service around the pass: the agent loop ([`agent`]), when passes run
//! ([`schedule`], pure), file events ([`watch`]), metrics and their HTTP endpoint
//! ([`metrics`]), and systemd's notify protocol ([`systemd`]). Nothing in the library
//! imports this layer.

pub mod agent;
pub mod metrics;
pub mod schedule;
pub mod systemd;
pub mod watch;
