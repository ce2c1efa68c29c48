//! Packet bytes → [`crate::flow::Flow`]. (in progress)
