//! Static files when the process is out of descriptors (`EMFILE`): the
//! answer is 503 with `Retry-After` (the server's momentary trouble), not
//! 404 (which a cache would keep), and service resumes once descriptors
//! free up. Its own test binary, because `RLIMIT_NOFILE` is process-wide.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;

use common::TestServer;
use weir::reactor::sys::rlimit;
use weir::{App, StaticFiles};

fn open_fds() -> u64 {
    // read_dir holds one descriptor of its own while listing.
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1
}

#[test]
fn out_of_descriptors_is_503_with_retry_after_then_service_resumes() {
    let root = std::env::temp_dir().join(format!("weir-static-emfile-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.txt"), b"file a").unwrap();
    // No open-file cache: every request opens the file.
    let files = StaticFiles::new(&root).open_file_cache(0, 0, 0);
    let srv = TestServer::start(App::new().static_files("/", files));
    let mut c = srv.connect();
    let get = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send(get);
    assert_eq!(c.read(false).text(), "file a");

    // Take every free descriptor.
    let (soft, _) = rlimit::nofile_limit().unwrap();
    rlimit::set_nofile_soft_limit(open_fds() + 8).unwrap();
    let mut placeholders: Vec<File> = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        placeholders.push(f);
    }
    c.send(get);
    let r = c.read(false);
    drop(placeholders);
    rlimit::set_nofile_soft_limit(soft).unwrap();
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));

    c.send(get);
    assert_eq!(c.read(false).text(), "file a");
    let _ = std::fs::remove_dir_all(&root);
}
