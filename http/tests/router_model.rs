//! The router against a brute-force model: among all routes whose pattern
//! matches the path, the winner is the one whose segment kinds (static <
//! param < catch-all) are lexicographically smallest; its handler is the exact
//! method, else GET for HEAD, else the any-method route. 405's Allow comes
//! from the first such pattern (in that order) that has handlers at all.

use proptest::prelude::*;
use weir_http::{LookupError, Router};

type ParamList = Vec<(String, String)>;
/// (segment kinds, pattern, params) of a matching pattern.
type Candidate = (Vec<u8>, String, ParamList);

#[derive(Debug, Clone)]
struct Route {
    method: Option<&'static str>, // None = any method
    pattern: String,
}

/// Segment kinds and params if `pattern` matches `path`.
fn matches(pattern: &str, path: &str) -> Option<(Vec<u8>, ParamList)> {
    let pat: Vec<&str> = if pattern == "/" { vec![] } else { pattern[1..].split('/').collect() };
    let segs: Vec<&str> = if path == "/" { vec![] } else { path[1..].split('/').collect() };
    let mut kinds = Vec::new();
    let mut params = Vec::new();
    for (i, p) in pat.iter().enumerate() {
        if let Some(name) = p.strip_prefix('*') {
            if i >= segs.len() {
                return None;
            }
            kinds.push(2);
            params.push((name.to_string(), segs[i..].join("/")));
            return Some((kinds, params));
        }
        let s = segs.get(i)?;
        if let Some(name) = p.strip_prefix(':') {
            if s.is_empty() {
                return None;
            }
            kinds.push(1);
            params.push((name.to_string(), s.to_string()));
        } else if p == s {
            kinds.push(0);
        } else {
            return None;
        }
    }
    (pat.len() == segs.len()).then_some((kinds, params))
}

fn model(routes: &[Route], method: &str, path: &str) -> Result<(usize, ParamList), Option<String>> {
    let mut patterns: Vec<Candidate> = Vec::new();
    for r in routes {
        if let Some((k, p)) = matches(&r.pattern, path) {
            if !patterns.iter().any(|(_, pat, _)| *pat == r.pattern) {
                patterns.push((k, r.pattern.clone(), p));
            }
        }
    }
    patterns.sort();
    for (_, pat, params) in &patterns {
        let at: Vec<(usize, &Route)> = routes.iter().enumerate().filter(|(_, r)| r.pattern == *pat).collect();
        let exact = at.iter().find(|(_, r)| r.method == Some(method));
        let head = at.iter().find(|(_, r)| method == "HEAD" && r.method == Some("GET"));
        let any = at.iter().find(|(_, r)| r.method.is_none());
        if let Some((i, _)) = exact.or(head).or(any) {
            return Ok((*i, params.clone()));
        }
    }
    for (_, pat, _) in &patterns {
        let mut names: Vec<&str> =
            routes.iter().filter(|r| r.pattern == *pat).filter_map(|r| r.method).collect();
        if !names.is_empty() {
            if names.contains(&"GET") && !names.contains(&"HEAD") {
                names.push("HEAD");
            }
            names.sort_unstable();
            return Err(Some(names.join(", ")));
        }
    }
    Err(None)
}

fn pattern() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        Just("a"),
        Just("b"),
        Just("abcdefghij"),
        Just("abcdefghik"),
        Just(":x"),
        Just("*r"),
        Just("")
    ];
    proptest::collection::vec(seg, 0..4).prop_map(|v| format!("/{}", v.join("/")))
}

fn path() -> impl Strategy<Value = String> {
    let seg = prop_oneof![Just("a"), Just("b"), Just("abcdefghij"), Just("abcdefghik"), Just("c"), Just("")];
    proptest::collection::vec(seg, 0..5).prop_map(|v| format!("/{}", v.join("/")))
}

fn method() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(Some("GET")),
        Just(Some("POST")),
        Just(Some("HEAD")),
        Just(Some("LONGMETHODNAME")),
        Just(None)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn router_agrees_with_model(
        routes in proptest::collection::vec((method(), pattern()), 0..12),
        lookups in proptest::collection::vec((prop_oneof![Just("GET"), Just("POST"), Just("HEAD"), Just("LONGMETHODNAME"), Just("PUT")], path()), 1..8),
    ) {
        let mut r = Router::new();
        let mut accepted = Vec::new();
        for (m, p) in routes {
            let ok = match m {
                Some(m) => r.insert(m, &p, accepted.len()).is_ok(),
                None => r.insert_any(&p, accepted.len()).is_ok(),
            };
            if ok {
                accepted.push(Route { method: m, pattern: p });
            }
        }
        for (m, p) in lookups {
            let got = match r.lookup(m.as_bytes(), &p) {
                Ok(found) => Ok((*found.value, found.params.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>())),
                Err(LookupError::NotFound) => Err(None),
                Err(LookupError::MethodNotAllowed { allow }) => Err(Some(allow.to_string())),
            };
            prop_assert_eq!(got, model(&accepted, m, &p), "{} {} with {:?}", m, p, accepted);
        }
    }
}
