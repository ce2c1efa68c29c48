//! Integration tests of `oxvs-dpctl`.

mod commands;
mod conformance; // Open vSwitch's odp.at corpus through the parse-* verbs, line for line // the ovs-dpctl command set against in-process userspace datapaths
mod ct_daemon; // conntrack commands through an oxvsd with real connections, beside ovs-dpctl under oxvs-run
mod daemon; // the oxvs-dpctl binary against netdev@ datapaths hosted by an oxvsd
