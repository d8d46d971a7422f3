//! The `weir` binary: see `weir --help`.

fn main() {
    if let Err(e) = weir_server::cli::run() {
        eprintln!("weir: {e}");
        std::process::exit(1);
    }
}
