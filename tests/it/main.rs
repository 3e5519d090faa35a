//! The one integration test binary: behaviour through the library against real
//! destinations, and the CLI through the built binary.

mod agent;
mod cli;
mod common;
mod conformance;
mod layers;
mod mariadb;
mod model;
mod postgres;
mod proxy;
mod regression;
mod regression_bookkeeping;
mod regression_config;
mod regression_config_host;
mod regression_net;
mod regression_read;
mod regression_repair;
mod regression_secrets;
mod remote;
mod restore;
mod service;
mod sources;
