//! Flow key attributes ↔ [`crate::flow::Flow`]. (in progress)
