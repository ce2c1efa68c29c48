//! Shared test machinery: a daemon to talk to, probes, messages, syscalls.

pub mod client;
pub mod daemon;
pub mod fixture;
pub mod nlmsg;
pub mod probe;
#[allow(unsafe_code)]
pub mod sys;
