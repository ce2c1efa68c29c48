//! Datapath actions (`OVS_ACTION_ATTR_*`) as Rust types. (in progress)
