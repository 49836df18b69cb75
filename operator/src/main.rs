//! The Capstan operator. The reconcile pipeline (fetch, verify, expand, apply, status) lives in
//! modules of those names.

fn main() {
    eprintln!("capstan-operator: not yet implemented");
    std::process::exit(2);
}
