//! Integration tests of oxvs-dpctl.
