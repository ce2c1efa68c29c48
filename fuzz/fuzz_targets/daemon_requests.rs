#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| oxvsd::fuzzing::requests(data));
