//! The service around the pass: the agent loop ([`agent`]), when passes run
//! ([`schedule`], pure), file events ([`watch`]), metrics and their HTTP endpoint
//! ([`metrics`]), the heartbeat to a dead-man-switch monitor ([`heartbeat`]), and
//! systemd's notify protocol ([`systemd`]). Nothing in the library
//! imports this layer.

pub(crate) mod agent;
pub(crate) mod heartbeat;
pub(crate) mod metrics;
pub(crate) mod schedule;
pub(crate) mod systemd;
pub(crate) mod watch;
