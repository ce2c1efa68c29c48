//! The userspace datapath's lookup structures.
//!
//! - [`flowkey`]: [`flowkey::FlowKey`], a [`odp::flow::Flow`] packed into
//!   64-bit words once per packet; both lookup stages work on it.
//! - [`emc`]: the exact-match cache, a small fixed array in front of the
//!   classifier.
//! - [`classifier`]: the megaflow classifier (one hash table per distinct
//!   mask, visited busiest first), with a signature cache in front that
//!   remembers where recent packets matched.
//! - [`ct`]: the control plane of the datapath's connection tracker
//!   ([`Datapath::conntrack`]): dumps, flushes, limits, settings.
//!
//! # Thread model
//!
//! Each poll thread owns its own [`classifier::Classifier`] and
//! [`emc::Emc`]: lookups take no lock and allocate nothing, and neither type
//! is `Sync` (the classifier keeps hit counters in `Cell`s). Both are `Send`
//! when their values are, so they can be built on one thread and moved to
//! the poll thread. The control plane never touches them directly: it sends
//! flow insertions and removals to the poll thread, which applies them
//! between packet batches.

#![forbid(unsafe_code)]

pub mod classifier;
pub mod ct;
pub mod dp;
pub mod emc;
pub mod flow;
pub mod flowkey;
pub mod pmd;
pub mod port;
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
