//! The site's tables: configuration errors with their exact located
//! messages, host selection, location precedence, rewrites and returns.

use std::path::Path;

use super::*;

const LISTENER: &str = "[[listener]]\naddress = \"127.0.0.1:8080\"\n";

fn base() -> &'static Path {
    // `root = "src"` is a directory that exists (this crate's sources).
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load_ok(text: &str) -> FileConfig {
    match load_str(text, "t.toml", base()) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid file, got:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match load_str(text, "t.toml", base()) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn each_kind_of_error_has_its_located_message() {
    let cases: &[(&str, &str)] = &[
        // Syntax.
        ("[server\n", "t.toml:1:8: TOML syntax: unclosed table, expected `]`"),
        // Unknown keys, at the top and nested.
        ("colour = 1\n", "t.toml:1:1: colour: unknown key; expected one of: server, builtins, limits, timeouts, log, metrics, tls, listener, host, rate_limit"),
        ("[timeouts]\nheadd = \"1s\"\n", "t.toml:2:1: timeouts.headd: unknown key; expected one of: head, body, idle, write, handler, tls_handshake"),
        // Types and ranges.
        ("[server]\nthreads = \"two\"\n", "t.toml:2:11: server.threads: expected an integer from 1 to 1024, found a string"),
        ("[server]\nthreads = 0\n", "t.toml:2:11: server.threads: expected an integer from 1 to 1024, found 0"),
        ("[limits]\nmax_body = \"1TB\"\n", "t.toml:2:12: limits.max_body: expected a size in bytes (an integer, or a string such as \"64KiB\" or \"1MiB\"), found \"1TB\""),
        ("[timeouts]\nidle = \"forever\"\n", "t.toml:2:8: timeouts.idle: expected a duration (seconds as an integer, or a string such as \"500ms\", \"10s\", \"2m\"), found \"forever\""),
        ("[log]\nlevel = \"verbose\"\n", "t.toml:2:9: log.level: expected one of error, warn, info, debug, found \"verbose\""),
        ("[server]\nunknown_host = 500\n", "t.toml:2:16: server.unknown_host: expected 421, 404 or \"close\""),
        ("[builtins]\nenable = [\"pong\"]\n", "t.toml:2:10: builtins.enable: unknown built-in \"pong\"; expected some of: healthz, ping, echo, stats, notes, ws-echo, ws-pubsub"),
        // Listeners.
        ("", "t.toml:1:1: listener: expected at least one [[listener]] with an address"),
        ("[[listener]]\naddress = \"nowhere\"\n", "t.toml:2:11: listener[0].address: expected an address and port such as 127.0.0.1:8080, [::1]:8080, :8080 or localhost:8080, found \"nowhere\""),
        ("[[listener]]\naddress = \":8080\"\ntls = true\n", "t.toml:1:1: listener[0].certificates: a TLS listener needs certificates = [{ cert = ..., key = ... }]"),
        ("[[listener]]\naddress = \":8080\"\nhosts = [\"a.example\"]\n", "t.toml:3:9: listener[0].hosts: no [[host]] is named \"a.example\""),
        // Hosts and locations.
        ("[[host]]\nnames = [\"a..b\"]\n", "t.toml:2:9: host[0].names: \"a..b\" is not a host name (expected a name, *.suffix or prefix.*)"),
        ("[[host]]\nlisting = true\n", "t.toml:1:1: host[0].names: expected names = [\"example.com\", ...] or default = true"),
        ("[[host]]\ndefault = true\nroot = \"no-such-dir\"\n", &format!("t.toml:3:8: host[0].root: {} is not a directory", base().join("no-such-dir").display())),
        ("[[host]]\ndefault = true\n[[host]]\nnames = [\"b\"]\ndefault = true\n", "t.toml:5:11: host[1].default: another host is already the default"),
        ("[[host]]\nnames = [\"a\"]\n[[host]]\nnames = [\"A\"]\n", "t.toml:4:9: host[1].names: \"a\" is already the name of another host"),
        ("[[host]]\ndefault = true\n[[host.location]]\nroot = \"src\"\n", "t.toml:3:1: host[0].location[0]: a location needs one of exact, prefix, priority_prefix or regex"),
        ("[[host]]\ndefault = true\n[[host.location]]\nprefix = \"/a\"\nexact = \"/a\"\nroot = \"src\"\n", "t.toml:4:10: host[0].location[0].prefix: a location has one of exact, prefix, not several"),
        ("[[host]]\ndefault = true\n[[host.location]]\nprefix = \"a\"\nroot = \"src\"\n", "t.toml:4:10: host[0].location[0].prefix: expected a path starting with /, found \"a\""),
        ("[[host]]\ndefault = true\n[[host.location]]\nregex = \"^/(a\"\napp = true\n", "t.toml:4:9: host[0].location[0].regex: invalid regex: regex parse error: ^/(a ^ error: unclosed group"),
        ("[[host]]\ndefault = true\n[[host.location]]\nprefix = \"/\"\n", "t.toml:3:1: host[0].location[0]: a location needs something to do: root, alias, return, app, rewrite or headers"),
        ("[[host]]\ndefault = true\n[[host.location]]\nprefix = \"/\"\nroot = \"src\"\napp = true\n", "t.toml:6:7: host[0].location[0].app: a location does one of root, app, not several"),
        ("[[host]]\ndefault = true\n[[host.location]]\nprefix = \"/\"\nproxy = \"http://127.0.0.1:9000\"\n", "t.toml:5:9: host[0].location[0].proxy: the reverse proxy is not built yet (see the reverse-proxy issue)"),
        ("[[host]]\ndefault = true\n[[host.location]]\nexact = \"/old\"\nreturn = { status = 301 }\n", "t.toml:5:10: host[0].location[0].return.location: a 301 needs a location"),
        ("[[host]]\ndefault = true\n[[host.location]]\nexact = \"/x\"\nreturn = { status = 200, location = \"/y\" }\n", "t.toml:5:37: host[0].location[0].return.location: a location goes with 301, 302, 303, 307 or 308, not 200"),
        ("[[host]]\ndefault = true\nrewrite = [{ from = \"^/a/(.*)$\", to = \"/b/$2\" }]\n", "t.toml:3:39: host[0].rewrite[0].to: $2 refers to a group the regex does not have (it has 1)"),
        ("[[host]]\ndefault = true\nrewrite = [{ from = \"^/a\", to = \"/b\", redirect = 303 }]\n", "t.toml:3:50: host[0].rewrite[0].redirect: expected 301, 302, 307 or 308, found 303"),
        ("[[host]]\ndefault = true\nrewrite = [{ from = \"^/a\", to = \"b\" }]\n", "t.toml:3:33: host[0].rewrite[0].to: an internal rewrite goes to a path starting with /, found \"b\""),
        ("[[host]]\ndefault = true\nheaders = { set = { \"Bad Name\" = \"x\" } }\n", "t.toml:3:21: host[0].headers.set.Bad Name: not a valid header name"),
        // Rate limits.
        ("[[host]]\ndefault = true\nrate_limit = \"api\"\n", "t.toml:3:14: host[0].rate_limit: no [[rate_limit]] is named \"api\""),
        ("[[rate_limit]]\nname = \"a\"\nrate = \"fast\"\n", "t.toml:3:8: rate_limit[0].rate: expected a rate such as \"10/s\" or \"600/m\", found \"fast\""),
        ("[[rate_limit]]\nname = \"a\"\nrate = \"1/s\"\nkey = \"cookie\"\n", "t.toml:4:7: rate_limit[0].key: expected \"ip\" or \"header:NAME\", found \"cookie\""),
    ];
    let mut wrong = Vec::new();
    for (text, want) in cases {
        // Every case but the listener ones gets a valid listener, so that
        // its error is the only one.
        let full = if text.contains("[[listener]]") || text.is_empty() {
            (*text).to_string()
        } else {
            format!("{text}{LISTENER}")
        };
        let got = errors(&full);
        if got != vec![(*want).to_string()] {
            wrong.push(format!("for:\n{text}\n  want: {want}\n  got:  {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_error_of_a_file_is_reported_in_file_order() {
    let text = "[server]\nthreads = \"x\"\ncolour = 1\n[[listener]]\naddress = \"nowhere\"\n[[host]]\ndefault = true\nrate_limit = \"none\"\n";
    let got = errors(text);
    let lines: Vec<&str> = got.iter().map(|e| e.split(": ").next().unwrap_or("")).collect();
    assert_eq!(lines, ["t.toml:2:11", "t.toml:3:1", "t.toml:5:11", "t.toml:8:14"]);
}

#[test]
fn bad_input_never_panics() {
    // Odd documents of every TOML type in every place: errors, no panic.
    for text in [
        "server = 1",
        "[[server]]",
        "listener = \"x\"",
        "host = [1, 2]",
        "[[host]]\nlocation = 3",
        "[[host]]\nnames = [1]\n[[host.location]]\nregex = 5",
        "[limits]\nmax_body = -1",
        "[limits]\nmax_body = 1.5",
        "[[host]]\nheaders = { set = 1, remove = 2, hsts = true, cors = 3 }",
        "[[rate_limit]]\nrate = 0\nburst = -1",
        "[timeouts]\nhead = \"99999999999999999999h\"",
        "[[listener]]\naddress = 1\ncertificates = [1]",
        "\u{0}",
        "a = \"\\u{110000}\"",
        "[[host]]\nnames = \"*.\"",
        "[[host]]\nnames = [\"*\"]",
    ] {
        let _ = load_str(text, "t.toml", base());
    }
}

/// A site from `hosts` (TOML) with one listener per entry of `listeners`
/// (each a list of host names, empty for all).
fn site(hosts: &str) -> Site {
    load_ok(&format!("{LISTENER}{hosts}")).site
}

fn decide(site: &Site, host: &str, path: &str) -> String {
    let header = |_: &str| None;
    let peer = || Some(std::net::IpAddr::from([127, 0, 0, 1]));
    let rq = Inbound {
        listener: Some(0),
        host: Some(host.as_bytes()),
        path,
        query: None,
        target: path.as_bytes(),
        header: &header,
        peer: &peer,
        now_ns: 0,
    };
    let d = site.decide(&rq);
    let then = match &d.then {
        Then::Respond(r) => {
            let loc =
                r.header("location").map(|l| format!(" {}", String::from_utf8_lossy(l))).unwrap_or_default();
            let body = match r.body().as_bytes() {
                Some(b) if r.header("location").is_none() => {
                    format!(" {}", String::from_utf8_lossy(b).trim_end())
                }
                _ => String::new(),
            };
            format!("{}{loc}{body}", r.status())
        }
        Then::Close => "close".into(),
        Then::Files(_, mount) => format!("files mount={mount:?}"),
        Then::App => "app".into(),
    };
    match d.path {
        Some(p) => format!("{then} path={p}"),
        None => then,
    }
}

#[test]
fn hosts_exact_then_leading_then_trailing_wildcard_then_default() {
    let s = site(
        r#"
[[host]]
names = ["example.com"]
[[host.location]]
prefix = "/"
return = { status = 200, body = "exact" }
[[host]]
names = ["*.example.com"]
[[host.location]]
prefix = "/"
return = { status = 200, body = "leading-short" }
[[host]]
names = ["*.api.example.com"]
[[host.location]]
prefix = "/"
return = { status = 200, body = "leading-long" }
[[host]]
names = ["www.*"]
[[host.location]]
prefix = "/"
return = { status = 200, body = "trailing" }
[[host]]
names = ["fallback.test"]
default = true
[[host.location]]
prefix = "/"
return = { status = 200, body = "default" }
"#,
    );
    for (host, want) in [
        ("example.com", "200 exact"),
        ("EXAMPLE.com.:8080", "200 exact"),
        ("a.example.com", "200 leading-short"),
        ("x.api.example.com", "200 leading-long"),
        ("api.example.com", "200 leading-short"),
        ("www.example.com", "200 leading-short"),
        ("www.other.org", "200 trailing"),
        ("other.org", "200 default"),
        ("", "200 default"),
    ] {
        assert_eq!(decide(&s, host, "/"), want, "Host: {host}");
    }
}

#[test]
fn unknown_hosts_get_the_configured_answer() {
    for (setting, want) in [
        ("", "421 Misdirected Request"),
        ("unknown_host = 404\n", "404 Not Found"),
        ("unknown_host = \"close\"\n", "close"),
    ] {
        let s = load_ok(&format!(
            "[server]\n{setting}{LISTENER}[[host]]\nnames = [\"a.test\"]\n[[host.location]]\nprefix = \"/\"\napp = true\n"
        ))
        .site;
        assert_eq!(decide(&s, "b.test", "/"), want, "{setting}");
        assert_eq!(decide(&s, "a.test", "/"), "app");
    }
}

#[test]
fn a_listener_serves_only_its_hosts() {
    let cfg = load_ok(
        "[[listener]]\naddress = \"127.0.0.1:1\"\nhosts = [\"a.test\"]\n[[listener]]\naddress = \"127.0.0.1:2\"\n\
         [[host]]\nnames = [\"a.test\"]\nroot = \"src\"\n[[host]]\nnames = [\"b.test\"]\n",
    );
    let s = &cfg.site;
    // Listener 0 serves a.test only: b.test is unknown there (421), and a
    // listener with one host answers for it under any other name.
    assert_eq!(s.select_host(Some(0), Some(b"a.test")), Some(0));
    assert_eq!(s.select_host(Some(0), Some(b"b.test")), Some(0));
    assert_eq!(s.select_host(Some(1), Some(b"b.test")), Some(1));
    assert_eq!(s.select_host(Some(1), Some(b"c.test")), None);
    assert_eq!(s.select_host(None, Some(b"b.test")), Some(1));
}

#[test]
fn location_precedence_as_nginx() {
    let s = site(
        r#"
[[host]]
default = true
root = "src"
[[host.location]]
prefix = "/"
return = { status = 200, body = "prefix /" }
[[host.location]]
prefix = "/images/"
return = { status = 200, body = "prefix /images/" }
[[host.location]]
priority_prefix = "/static/"
return = { status = 200, body = "priority /static/" }
[[host.location]]
exact = "/images/logo.png"
return = { status = 200, body = "exact" }
[[host.location]]
regex = "\\.(png|jpg)$"
return = { status = 200, body = "regex 1 $1" }
[[host.location]]
regex = "^/images/(.*)$"
return = { status = 200, body = "regex 2 $1" }
[[host.location]]
prefix = "/images/big/"
return = { status = 200, body = "prefix /images/big/" }
"#,
    );
    for (path, want) in [
        // 1. exact wins over everything.
        ("/images/logo.png", "200 exact"),
        // 2. a priority prefix, when it is the longest, skips the regexes.
        ("/static/a.png", "200 priority /static/"),
        // 3. regexes in file order beat the longest plain prefix.
        ("/images/a.png", "200 regex 1 png"),
        ("/images/a.txt", "200 regex 2 a.txt"),
        ("/images/big/a.txt", "200 regex 2 big/a.txt"),
        // 4. no regex: the longest prefix.
        ("/docs/x", "200 prefix /"),
        // A regex anywhere in the path.
        ("/x.jpg", "200 regex 1 jpg"),
    ] {
        assert_eq!(decide(&s, "h", path), want, "{path}");
    }
    // 5. no location at all: the host's root, else the app.
    let s = site("[[host]]\ndefault = true\nroot = \"src\"\n[[host.location]]\nexact = \"/x\"\napp = true\n");
    assert_eq!(decide(&s, "h", "/y"), "files mount=\"\"");
    let s = site("[[host]]\ndefault = true\n[[host.location]]\nexact = \"/x\"\nroot = \"src\"\n");
    assert_eq!(decide(&s, "h", "/y"), "app");
}

#[test]
fn rewrites_capture_and_redirect_or_choose_again() {
    let s = site(
        r#"
[[host]]
default = true
rewrite = [{ from = "^/old/(.*)$", to = "/new/$1", redirect = 308 }]
[[host.location]]
prefix = "/blog/"
rewrite = [
  { from = "^/blog/(\\d+)/(.*)$", to = "/posts/$2?id=$1" },
  { from = "^/blog/moved$", to = "https://$host/elsewhere", redirect = 301 },
]
[[host.location]]
prefix = "/posts/"
return = { status = 200, body = "post $uri ?$args" }
[[host.location]]
regex = "^/u/([a-z]+)$"
rewrite = [{ from = "^/u/", to = "/users/$1", redirect = 302 }]
[[host.location]]
prefix = "/loop/"
rewrite = [{ from = "^/loop/(.*)$", to = "/loop/$1" }]
[[host.location]]
prefix = "/files/"
alias = "src"
"#,
    );
    for (path, want) in [
        ("/old/a/b", "308 /new/a/b"),
        ("/blog/42/hello", "200 post /posts/hello ?id=42 path=/posts/hello"),
        ("/blog/moved", "301 https://h/elsewhere"),
        // A rule without groups of its own uses the location regex's.
        ("/u/ann", "302 /users/ann"),
        // A rewrite loop ends in 500 after 10 internal rewrites.
        ("/loop/x", "500 Internal Server Error path=/loop/x"),
        ("/files/lib.rs", "files mount=\"/files\""),
    ] {
        assert_eq!(decide(&s, "h", path), want, "{path}");
    }
}

#[test]
fn rate_limited_locations_answer_429_with_retry_after() {
    let s = site(
        "[[rate_limit]]\nname = \"slow\"\nrate = \"1/m\"\nburst = 2\n\
         [[host]]\ndefault = true\n[[host.location]]\nprefix = \"/api/\"\nrate_limit = \"slow\"\napp = true\n",
    );
    assert_eq!(decide(&s, "h", "/api/x"), "app");
    assert_eq!(decide(&s, "h", "/api/x"), "app");
    // The clock stands still in `decide` (now = 0): the third is refused,
    // and the next token is a minute away.
    let header = |_: &str| None;
    let peer = || Some(std::net::IpAddr::from([127, 0, 0, 1]));
    let rq = Inbound {
        listener: Some(0),
        host: None,
        path: "/api/x",
        query: None,
        target: b"/api/x",
        header: &header,
        peer: &peer,
        now_ns: 0,
    };
    let Then::Respond(r) = s.decide(&rq).then else { panic!("expected 429") };
    assert_eq!(r.status(), 429);
    assert_eq!(r.header("retry-after"), Some(&b"60"[..]));
    // Other paths are not limited.
    assert_eq!(decide(&s, "h", "/other"), "app");
}

#[test]
fn listen_addresses_as_people_write_them() {
    for (s, want) in [
        ("127.0.0.1:8080", Ok("127.0.0.1:8080")),
        ("[::1]:8080", Ok("[::1]:8080")),
        (":8080", Ok("0.0.0.0:8080")),
        ("*:8080", Ok("0.0.0.0:8080")),
        ("localhost:8080", Ok("127.0.0.1:8080")),
        ("LOCALHOST:1", Ok("127.0.0.1:1")),
        ("example.com:80", Err(())),
        ("8080", Err(())),
        ("127.0.0.1:99999", Err(())),
    ] {
        let got = parse_listen_addr(s).map(|a| a.to_string()).map_err(|_| ());
        assert_eq!(got, want.map(str::to_string), "{s}");
    }
}
