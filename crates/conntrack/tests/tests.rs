//! Scenario tests of the connection tracker: packet sequences with the
//! `ct_state` and rewrites the kernel's openvswitch datapath gives them.
//!
//! - `tcp`: handshake, data, FIN and RST through the state machine;
//!   window violations during the handshake; liberal tracking after it.
//! - `udp_icmp`: UDP, ICMP echo, ICMP(v6) errors related to a flow.
//! - `nat`: SNAT/DNAT with ranges, collisions, persistence, zero-SNAT,
//!   ICMP errors under NAT, checksums.
//! - `helpers`: FTP active/passive through NAT, TFTP.
//! - `ipf`: fragment reassembly and refragmentation.
//! - `control`: zones, limits, flush, mark/labels, force, expiry, dumps.
//! - `fuzz`: the fuzz entry point over a seed corpus.
//! - `model`: the table against a simple model (proptest).

mod common;

mod control;
mod fuzz;
mod helpers;
mod ipf;
mod model;
mod nat;
mod tcp;
mod udp_icmp;

/// `ct_state` bits, spelled out here (OVS_CS_F_* of linux/openvswitch.h)
/// rather than taken from the crate under test.
#[allow(missing_docs)]
pub mod cs {
    pub const NEW: u8 = 0x01;
    pub const EST: u8 = 0x02;
    pub const REL: u8 = 0x04;
    pub const RPL: u8 = 0x08;
    pub const INV: u8 = 0x10;
    pub const TRK: u8 = 0x20;
    pub const SNAT: u8 = 0x40;
    pub const DNAT: u8 = 0x80;
}
