//! One conformance suite for every dpif provider.
//!
//! Each test is a function taking a [`TestBed`]: a fresh datapath of the
//! provider under test plus a way to send packets into its ports and see
//! what comes out. [`suite!`] turns every test into a `#[test]` for one
//! provider, so the same assertions run, unchanged, against the userspace
//! datapath and (inside a VM with the module) the kernel datapath.
//!
//! Where providers legitimately differ, the difference is stated once, in
//! [`Capabilities`], and the tests consult it; they never skip silently.
//!
//! Packets are built here by hand ([`packet`]), independently of the `odp`
//! crate's composer, and flows are written in the `ovs-dpctl` text format.

#![forbid(unsafe_code)]

pub mod packet;
pub mod tests;

use std::time::Duration;

use dpif::{Dpif, PortSpec};
use odp::key::PortNo;

/// What a provider supports, where providers legitimately differ.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// A datapath-wide "drop IP fragments" setting exists
    /// (the kernel has none: `EOPNOTSUPP`).
    pub drop_frags: bool,
    /// Datapath-wide packet sampling exists (the kernel has none).
    pub sflow: bool,
    /// Flow puts check that `in_port` is a port of the datapath (the
    /// kernel accepts any port number).
    pub checks_in_port: bool,
    /// `queue_to_priority` is implemented.
    pub queues: bool,
    /// A dump returns each flow at most once even while other threads add
    /// and delete flows (the kernel may repeat a flow when its hash table is
    /// resized during a dump; every stable flow still appears).
    pub dumps_unique: bool,
}

/// A datapath under test, with ports the test can drive.
pub trait TestBed {
    /// The datapath.
    fn dpif(&self) -> &Dpif;

    /// What the provider supports.
    fn caps(&self) -> Capabilities;

    /// Adds a port the test can inject into and read from; returns its number.
    fn add_test_port(&self, name: &str, port_no: Option<PortNo>) -> PortNo;

    /// The spec `add_test_port` would use for `name` (type and options), for
    /// tests of port_add's errors.
    fn test_port_spec(&self, name: &str) -> PortSpec;

    /// Makes `packet` arrive on port `port`.
    fn inject(&self, port: PortNo, packet: &[u8]);

    /// Packets transmitted on `port` so far (and not yet taken), waiting up
    /// to `timeout` for at least `min` of them.
    fn take_output(&self, port: PortNo, min: usize, timeout: Duration) -> Vec<Vec<u8>>;

    /// Opens another handle on the same datapath, as a second client would.
    fn reopen(&self) -> Dpif;

    /// Opens the datapath `name` of the provider under test (`create` as
    /// in `DpifClass::open`); for lifecycle tests.
    fn open_other(&self, name: &str, create: bool) -> Result<Dpif, dpif::Errno>;

    /// Names of the provider's datapaths.
    fn enumerate(&self) -> Vec<String>;
}

/// Instantiates every test of the suite as a `#[test]` function, with
/// `$bed` an expression creating a fresh [`TestBed`] (a `Box<dyn TestBed>`
/// or anything that derefs to one).
#[macro_export]
macro_rules! suite {
    ($bed:expr) => {
        $crate::suite!(@tests $bed;
            datapath_lifecycle,
            local_port_is_zero_and_named_after_datapath,
            port_numbers_and_errors,
            port_dump_and_poll,
            put_existing_without_modify_is_eexist,
            modify_missing_is_enoent,
            modify_keeps_stats_unless_zeroed,
            get_and_del_by_key_and_by_ufid,
            del_missing_is_enoent,
            malformed_puts_are_einval_and_change_nothing,
            same_mask_and_masked_key_is_eexist,
            flush_deletes_everything,
            dump_returns_every_flow_once,
            terse_dump_has_ufid_and_stats_only,
            dump_consistent_under_concurrent_put_del,
            operate_batch_has_per_op_results,
            forwarding_counts_hits_and_flow_stats,
            execute_outputs_packet,
            miss_becomes_upcall_with_key,
            listen_mask_off_counts_lost,
            purge_discards_upcalls,
            handlers_spread_and_bound_queues,
            userspace_action_gives_action_upcall,
            sampling_gives_sample_upcalls,
            drop_frags_setting,
            queue_to_priority_contract,
        );
    };
    (@tests $bed:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let bed = $bed;
                $crate::tests::$name(&*bed);
            }
        )*
    };
}
