//! A static site with caching rules: what an embedder adds to serve files
//! the way a browser (and a CDN in front) should cache them.
//!
//! ```text
//! cargo run --example static_site                    # serves examples/static_site/
//! cargo run --example static_site -- 127.0.0.1:3002 ./public
//! curl -i localhost:3002/                             # Cache-Control: no-cache, ETag: "..."
//! curl -i -H 'If-None-Match: "<that etag>"' localhost:3002/   # 304, no body
//! curl -i localhost:3002/css/site.css                 # Cache-Control: public, max-age=3600
//! curl -i localhost:3002/assets/logo.3f9c2e.svg       # max-age=31536000, immutable
//! curl -i localhost:3002/healthz                      # a route beside the files
//! ```
//!
//! What it teaches: [`StaticFiles`] is configured with builder methods and
//! mounted with [`App::static_files`] (`App::static_dir` is the same with
//! the defaults). The rules, first match wins:
//!
//! | files | `Cache-Control` | why |
//! |---|---|---|
//! | `/assets/…` | `public, max-age=31536000, immutable` | the name carries a hash of the contents: a new version is a new URL, so the old one can be kept forever |
//! | `*.css` | `public, max-age=3600` | stable names, changed rarely: an hour without asking |
//! | everything else (pages) | `no-cache` | "ask every time": the browser revalidates with `If-None-Match` and gets `304` while the page is unchanged |
//!
//! What the server adds without configuration: an `ETag` and
//! `Last-Modified` on every file (so `no-cache` costs a 304, not a
//! download), ranges, `index.html` for a directory, gzip for compressible
//! files from 1 KiB (or `file.gz`/`file.br` beside the file, when present),
//! an open-file cache (a hot file costs no `open`), and path safety: no
//! `..`, no dotfiles, no symlink out of the root (see the `static_files`
//! module of `weir-server`).
//!
//! Routes beat the file mount: `/healthz` is answered by its handler even
//! though the files are mounted at `/`.

use std::path::PathBuf;

use weir::{App, Response, Server, StaticFiles};

/// The site that comes with the example, found wherever `cargo run` is started.
const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static_site");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weir::block_shutdown_signals()?;
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3002".into());
    let root = args.next().map_or_else(|| PathBuf::from(SITE), PathBuf::from);
    if !root.is_dir() {
        return Err(format!("{}: not a directory", root.display()).into());
    }
    let files = StaticFiles::new(&root)
        .cache_control("/assets/", "public, max-age=31536000, immutable")
        .cache_control(".css", "public, max-age=3600")
        .cache_control("/", "no-cache");
    let app = App::new().get("/healthz", |_| Response::text("ok\n")).static_files("/", files);
    let server = Server::builder(app).listen(addr.parse()?).start()?;
    println!("serving {} on http://{}/", root.display(), server.local_addrs()[0]);
    Ok(server.run_until_signal()?)
}
