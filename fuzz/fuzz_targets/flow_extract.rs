#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| odp::fuzzing::flow_extract(data));
