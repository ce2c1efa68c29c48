//! [`crate::flow::Flow`] → packet bytes. (in progress)
