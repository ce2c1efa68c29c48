//! Linux system boundaries of the kernel-backed providers.
//!
//! Every `unsafe` block of the crate lives here, one module per boundary,
//! each with `#[allow(unsafe_code)]` and a `// SAFETY:` comment per block.
//! The rest of the crate sees safe types owning their descriptors
//! ([`std::os::fd::OwnedFd`]).

#[allow(unsafe_code)]
pub(crate) mod afpacket;
#[allow(unsafe_code)]
pub(crate) mod netif;
pub mod poll;
#[allow(unsafe_code)]
pub(crate) mod tap;
