//! Reading what a location (and a host's directory) does: the static
//! files and their options, `return`, `rewrite` rules and header rules.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use super::super::reader::{Doc, Table};
use super::super::{Action, HeaderRules, Limit, LocationSpec, Match, Return, Rewrite};
use super::*;
use crate::header::{HeaderName, HeaderValue};
use crate::middleware::Cors;
use crate::static_files::StaticFiles;

impl Reader {
    /// A directory and its options, from the keys of `t`.
    pub(super) fn files(
        &self,
        doc: &mut Doc<'_>,
        t: &Table<'_, '_>,
        key: &str,
        dir: &str,
    ) -> Option<Arc<StaticFiles>> {
        let path = self.path(dir);
        if !path.is_dir() {
            t.error(doc, key, format!("{} is not a directory", path.display()));
            return None;
        }
        let mut f = StaticFiles::new(path);
        if let Some(i) = t.str(doc, "index") {
            if i.is_empty() || i.contains('/') {
                t.error(doc, "index", format!("expected a file name, found {i:?}"));
            } else {
                f = f.index(&i);
            }
        }
        f = f.listing(t.bool(doc, "listing").unwrap_or(false));
        f = f.allow_hidden(t.bool(doc, "hidden").unwrap_or(false));
        f = f.precompressed(t.bool(doc, "precompressed").unwrap_or(true));
        if let Some(g) = t.bool(doc, "gzip") {
            f = f.gzip(g, 1024, 8 << 20);
        }
        for c in t.tables(doc, "cache_control", CACHE_KEYS) {
            match (c.str(doc, "pattern"), c.str(doc, "value")) {
                (Some(p), Some(v)) => f = f.cache_control(&p, &v),
                (None, _) if !c.has("pattern") => {
                    c.error(doc, "pattern", "expected a pattern such as \".css\" or \"/assets/\"");
                }
                (_, None) if !c.has("value") => c.error(doc, "value", "expected a Cache-Control value"),
                _ => {}
            }
        }
        Some(Arc::new(f))
    }

    pub(super) fn location(
        &self,
        doc: &mut Doc<'_>,
        t: &Table<'_, '_>,
        limits: &HashMap<String, Arc<Limit>>,
    ) -> Option<(Match, LocationSpec)> {
        let kinds = ["exact", "prefix", "priority_prefix", "regex"];
        let given: Vec<&str> = kinds.iter().copied().filter(|k| t.has(k)).collect();
        let mut groups = 0;
        let matcher = match given.as_slice() {
            [k] => match t.str(doc, k) {
                None => None,
                Some(v) => match *k {
                    "regex" => match Regex::new(&v) {
                        Ok(re) => {
                            groups = re.captures_len() - 1;
                            Some(Match::Regex(re))
                        }
                        Err(e) => {
                            t.error(doc, k, format!("invalid regex: {}", one_line(&e.to_string())));
                            None
                        }
                    },
                    _ if !v.starts_with('/') => {
                        t.error(doc, k, format!("expected a path starting with /, found {v:?}"));
                        None
                    }
                    "exact" => Some(Match::Exact(v)),
                    "prefix" => Some(Match::Prefix(v)),
                    _ => Some(Match::PriorityPrefix(v)),
                },
            },
            [] => {
                t.error(doc, "", "a location needs one of exact, prefix, priority_prefix or regex");
                None
            }
            [_, second, ..] => {
                t.error(doc, second, format!("a location has one of {}, not several", given.join(", ")));
                None
            }
        };
        let actions: Vec<&str> =
            ["root", "alias", "return", "app", "proxy"].into_iter().filter(|k| t.has(k)).collect();
        if actions.len() > 1 {
            t.error(doc, actions[1], format!("a location does one of {}, not several", actions.join(", ")));
        }
        let mut action = Action::Fallback;
        if let Some(dir) = t.str(doc, "root") {
            if let Some(files) = self.files(doc, t, "root", &dir) {
                action = Action::Files { files, mount: String::new() };
            }
        } else if let Some(dir) = t.str(doc, "alias") {
            let mount = match &matcher {
                Some(Match::Prefix(p) | Match::PriorityPrefix(p) | Match::Exact(p)) => {
                    Some(p.trim_end_matches('/').to_string())
                }
                Some(Match::Regex(_)) => {
                    t.error(doc, "alias", "alias needs a prefix or exact location (use root with a regex)");
                    None
                }
                None => None,
            };
            if let (Some(files), Some(mount)) = (self.files(doc, t, "alias", &dir), mount) {
                action = Action::Files { files, mount };
            }
        } else if let Some(r) = t.table(doc, "return", RETURN_KEYS) {
            if let Some(ret) = self.ret(doc, &r) {
                action = Action::Return(ret);
            }
        } else if let Some(app) = t.bool(doc, "app") {
            if app {
                action = Action::App;
            }
        } else if t.has("proxy") {
            t.error(doc, "proxy", "the reverse proxy is not built yet (see the reverse-proxy issue)");
        }
        let rewrites = self.rewrites(doc, t, groups);
        if matches!(action, Action::Fallback)
            && rewrites.is_empty()
            && actions.is_empty()
            && !t.has("headers")
        {
            t.error(
                doc,
                "",
                "a location needs something to do: root, alias, return, app, rewrite or headers",
            );
        }
        let spec = LocationSpec {
            rewrites,
            action,
            headers: self.headers(doc, t),
            rate: self.rate_ref(doc, t, limits),
            max_body: t.size(doc, "max_body"),
        };
        Some((matcher?, spec))
    }

    pub(super) fn ret(&self, doc: &mut Doc<'_>, t: &Table<'_, '_>) -> Option<Return> {
        let status = t.int(doc, "status", 200, 599);
        if status.is_none() && !t.has("status") {
            t.error(doc, "status", "expected a status from 200 to 599");
        }
        let status = status? as u16;
        let location = t.str(doc, "location");
        let body = t.str(doc, "body");
        let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
        if redirect && location.is_none() {
            t.error(doc, "location", format!("a {status} needs a location"));
        }
        if !redirect && location.is_some() {
            t.error(doc, "location", format!("a location goes with 301, 302, 303, 307 or 308, not {status}"));
        }
        Some(Return { status, location, body, content_type: t.str(doc, "content_type") })
    }

    /// The `rewrite` rules of `t`; `outer` is the location regex's group count.
    pub(super) fn rewrites(&self, doc: &mut Doc<'_>, t: &Table<'_, '_>, outer: usize) -> Vec<Rewrite> {
        let mut out = Vec::new();
        for r in t.tables(doc, "rewrite", REWRITE_KEYS) {
            let from = r.str(doc, "from");
            let to = r.str(doc, "to");
            if from.is_none() && !r.has("from") {
                r.error(doc, "from", "expected a regex to match the path against");
            }
            if to.is_none() && !r.has("to") {
                r.error(doc, "to", "expected the replacement (with $1.. for the regex's groups)");
            }
            let redirect = match r.int(doc, "redirect", 0, 999) {
                None => None,
                Some(s @ (301 | 302 | 307 | 308)) => Some(s as u16),
                Some(s) => {
                    r.error(doc, "redirect", format!("expected 301, 302, 307 or 308, found {s}"));
                    None
                }
            };
            let (Some(from), Some(to)) = (from, to) else { continue };
            let re = match Regex::new(&from) {
                Ok(re) => re,
                Err(e) => {
                    r.error(doc, "from", format!("invalid regex: {}", one_line(&e.to_string())));
                    continue;
                }
            };
            let groups = (re.captures_len() - 1).max(outer);
            if let Some(n) = highest_group(&to).filter(|n| *n > groups) {
                r.error(
                    doc,
                    "to",
                    format!("${n} refers to a group the regex does not have (it has {groups})"),
                );
                continue;
            }
            if redirect.is_none() && !to.starts_with('/') {
                r.error(
                    doc,
                    "to",
                    format!("an internal rewrite goes to a path starting with /, found {to:?}"),
                );
                continue;
            }
            out.push(Rewrite { from: re, to, redirect });
        }
        out
    }

    pub(super) fn headers(&self, doc: &mut Doc<'_>, t: &Table<'_, '_>) -> Option<Arc<HeaderRules>> {
        let h = t.table(doc, "headers", HEADER_KEYS)?;
        let mut rules = HeaderRules::default();
        for (name, v, at) in h.map(doc, "set") {
            let valid = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            match v.as_str() {
                Some(s) if valid && !s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) => {
                    rules.set.push((HeaderName::from(name.clone()), HeaderValue::from(s.to_string())));
                }
                _ if !valid => doc.error(at, &format!("{}.set.{name}", h.path), "not a valid header name"),
                Some(_) => doc.error(
                    v.span,
                    &format!("{}.set.{name}", h.path),
                    "a header value cannot hold CR, LF or NUL",
                ),
                None => doc.error(
                    v.span,
                    &format!("{}.set.{name}", h.path),
                    format!("expected a string, found {}", v.type_name()),
                ),
            }
        }
        rules.remove = h.str_list(doc, "remove").unwrap_or_default();
        if let Some(v) = h.get("hsts") {
            let value = match (v.as_str(), v.v) {
                (Some(s), _) => Some(s.to_string()),
                (_, toml::de::DeValue::Integer(i)) => {
                    i.as_str().parse::<u64>().ok().map(|n| format!("max-age={n}"))
                }
                _ => None,
            };
            match value {
                Some(v) => rules.set.push(("Strict-Transport-Security".into(), v.into())),
                None => h.error(
                    doc,
                    "hsts",
                    "expected a max-age in seconds (e.g. 31536000) or the header's value",
                ),
            }
        }
        if let Some(csp) = h.str(doc, "csp") {
            rules.set.push(("Content-Security-Policy".into(), csp.into()));
        }
        if let Some(origins) = h.str_list(doc, "cors") {
            rules.cors =
                Some(if origins.iter().any(|o| o == "*") { Cors::any() } else { Cors::origins(origins) });
        }
        Some(Arc::new(rules))
    }
}
