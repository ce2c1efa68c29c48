#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| odp::fuzzing::text_key(data));
