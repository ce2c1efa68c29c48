//! Integration tests of oxvs-run.
