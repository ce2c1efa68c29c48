//! Integration tests of `oxvs-dpctl`.

mod conformance; // Open vSwitch's odp.at corpus through the parse-* verbs, line for line
