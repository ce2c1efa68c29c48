//! Classifier benchmarks (in progress).
fn main() {}
