//! The `weir` binary: the server's command line and `weir bench`, the load
//! generator. They live on the binary's side so that a crate embedding
//! `weir` (with `default-features = false`) builds no clap.

mod bench;
mod cli;
mod config_file;

fn main() {
    if let Err(e) = cli::run() {
        eprintln!("weir: {e}");
        std::process::exit(1);
    }
}
