//! Integration tests of `oxvs-dpctl`.

mod conformance; // Open vSwitch's odp.at corpus through the parse-* verbs, line for line
mod commands; // the ovs-dpctl command set against in-process userspace datapaths
