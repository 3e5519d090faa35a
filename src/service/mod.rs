//! The service around the pass: the agent loop ([`agent`]), when passes run
//! ([`schedule`], pure), file events ([`watch`]), metrics and their HTTP endpoint
//! ([`metrics`]), and systemd's notify protocol ([`systemd`]). Nothing in the library
//! imports this layer.

pub(crate) mod agent;
pub(crate) mod metrics;
pub(crate) mod schedule;
pub(crate) mod systemd;
pub(crate) mod watch;
