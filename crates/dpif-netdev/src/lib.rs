//! The userspace datapath (the `netdev` provider).
//!
//! The fast path, in the order a packet meets it:
//!
//! - [`pmd`]: poll threads: the receive loop over their ports' queues.
//! - [`pipeline`]: the stages every received batch goes through
//!   (extract → cache → classify → execute → miss → send, and the
//!   recirculation loop), with the per-batch settings read once.
//! - [`miniflow`]: packet → key in one pass, hashed once.
//! - [`flowkey`]: [`flowkey::FlowKey`], a [`odp::flow::Flow`] packed into
//!   64-bit words; every lookup stage works on it.
//! - [`emc`]: the exact-match cache, a small fixed array in front of the
//!   classifier.
//! - [`classifier`]: the megaflow classifier (one hash table per distinct
//!   mask, visited busiest first), with a signature cache in front that
//!   remembers where recent packets matched.
//! - [`output`]: transmit batches, action upcalls, recirculation (the
//!   executor's sink).
//! - [`upcall`]: the bounded handler queues and the one upcall builder.
//!
//! The control plane: [`dp`] (ports, the flow table, the dpif
//! [`dpif::Provider`]), [`flow`] (an installed flow), [`port`], [`ct`] (the
//! datapath's connection tracker, [`Datapath::conntrack`]: dumps, flushes,
//! limits, settings).
//!
//! # Thread model
//!
//! Each poll thread owns its own [`pipeline::Pipeline`]: its
//! [`classifier::Classifier`] and [`emc::Emc`] take no lock and allocate
//! nothing on lookup, and neither type is `Sync` (the classifier keeps
//! hit counters in `Cell`s). Both are `Send` when their values are, so
//! they can be built on one thread and moved to the poll thread. The
//! control plane never touches them directly: it sends flow insertions and
//! removals to the poll thread, which applies them between packet
//! batches; readers of the flow table never wait for writers.

// Unsafe code only in `sys` (prefetch hints), with SAFETY notes.
#![deny(unsafe_code)]

pub mod classifier;
pub mod ct;
pub mod dp;
pub mod emc;
pub mod flow;
pub mod flowkey;
pub mod miniflow;
pub mod output;
pub mod pipeline;
pub mod pmd;
pub mod port;
pub mod rng;
mod sys;
pub mod upcall;

pub use dp::{Datapath, NetdevClass};

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct Flow {
        alive: AtomicBool,
    }

    impl crate::emc::EmcValue for Flow {
        fn is_alive(&self) -> bool {
            self.alive.load(Ordering::Relaxed)
        }
    }

    /// The thread model relies on both structures moving between threads.
    #[test]
    fn lookup_structures_are_send() {
        fn is_send<T: Send>() {}
        is_send::<crate::classifier::Classifier<Arc<Flow>>>();
        is_send::<crate::emc::Emc<Arc<Flow>>>();
        let f = Flow {
            alive: AtomicBool::new(true),
        };
        assert!(crate::emc::EmcValue::is_alive(&f));
    }
}
