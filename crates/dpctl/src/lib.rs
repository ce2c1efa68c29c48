//! `oxvs-dpctl`: command-line front end. Arguments → calls → text output;
//! no datapath logic lives here.

#![forbid(unsafe_code)]

/// Runs the command line `args` (without the program name); returns the exit status.
pub fn run(args: Vec<String>) -> i32 {
    let _ = args;
    0
}
