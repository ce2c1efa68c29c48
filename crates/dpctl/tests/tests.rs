//! Integration tests of `oxvs-dpctl`.

mod commands;
mod conformance; // Open vSwitch's odp.at corpus through the parse-* verbs, line for line // the ovs-dpctl command set against in-process userspace datapaths
mod ct_daemon; // conntrack commands through an oxvsd with real connections, beside ovs-dpctl under oxvs-run
mod daemon; // the oxvs-dpctl binary against netdev@ datapaths hosted by an oxvsd
mod ovs_dpctl; // Debian's ovs-dpctl (through oxvs-run) and oxvs-dpctl on the same oxvsd datapath
mod python_parser; // dump-flows lines of the userspace datapath through OVS's Python flow parser
mod random_corpus; // random keys, actions and filters with OVS 3.7.1's outputs, through the parse-* verbs
