//! OVS's text format for flow keys, masks and actions, as `ovs-dpctl
//! dump-flows` prints and accepts it (OVS `lib/odp-util.c`), byte-exact.

pub mod action;
pub mod filter;
pub mod key;
