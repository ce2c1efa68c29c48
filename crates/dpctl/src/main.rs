//! `oxvs-dpctl`: the `ovs-dpctl` command set for oxvs datapaths.

fn main() {
    std::process::exit(dpctl::run(std::env::args().skip(1).collect()));
}
