//! A tiny in-memory items API: JSON in and out, errors as JSON with the
//! right status, path parameters and a query string.
//!
//! ```text
//! cargo run --example json_api                     # http://127.0.0.1:3001/items
//! curl -d '{"name":"lamp","price_cents":1999}' localhost:3001/items   # 201, Location: /items/1
//! curl 'localhost:3001/items?q=la&limit=10'                           # 200 [{"id":1,...}]
//! curl localhost:3001/items/1                                         # 200 {"id":1,...}
//! curl -X DELETE localhost:3001/items/1                               # 204
//! curl localhost:3001/items/1                                         # 404 {"error":"no item 1","status":404}
//! curl -d '{"nme":"lamp"}' localhost:3001/items                       # 400 {"error":"unknown field ...}
//! curl -X PUT localhost:3001/items                                    # 405 {"error":"Method Not Allowed",...}
//! ```
//!
//! What it teaches:
//!
//! * [`Request::json`] parses the body into a `serde` type and
//!   [`Response::json`] serialises one; `deny_unknown_fields` turns a typo
//!   into a 400 instead of a silently ignored field.
//! * `:id` in a pattern is a path parameter ([`Request::param`]);
//!   [`Request::query_param`] form-decodes one query parameter.
//! * Handlers return `Result<Response, ApiError>`; `reply` turns an error
//!   into its JSON body with its status, in one place. An `after`
//!   middleware does the same for the 404 and 405 the router answers by
//!   itself (unknown path, wrong method, keeping its `Allow`), so a client
//!   gets JSON errors everywhere.
//! * Shared state is an `Arc<Mutex<..>>` captured by the handlers. They run
//!   inline, on the event loop, which is right for a lock held a few
//!   microseconds and wrong for anything slow: that goes to the worker
//!   pool (`examples/worker_pool.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use weir::{middleware, App, Request, Response, Server};

/// Longest item name accepted, in characters.
const MAX_NAME: usize = 100;
/// Most items one listing returns.
const MAX_LIMIT: usize = 100;

#[derive(Clone, Serialize)]
struct Item {
    id: u64,
    name: String,
    price_cents: u64,
}

/// The body of `POST /items`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItem {
    name: String,
    price_cents: u64,
}

#[derive(Default)]
struct Store {
    next_id: u64,
    items: BTreeMap<u64, Item>,
}

type Shared = Arc<Mutex<Store>>;

/// An error a handler answers with: a status and a message for the client.
struct ApiError {
    status: u16,
    message: String,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    status: u16,
}

fn error_response(status: u16, message: &str) -> Response {
    Response::json(&ErrorBody { error: message, status }).with_status(status)
}

/// The one place where an error becomes an answer.
fn reply(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| error_response(e.status, &e.message))
}

/// A poisoned lock means a handler panicked mid-update; the map itself is
/// still consistent (every update is a single insert or remove), so keep serving.
fn lock(store: &Shared) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn item_id(req: &Request<'_>) -> Result<u64, ApiError> {
    let raw = req.param("id").unwrap_or("");
    raw.parse().map_err(|_| ApiError::new(400, format!("item id {raw:?} is not a number")))
}

/// `GET /items?q=SUBSTRING&limit=N`
fn list(store: &Shared, req: &Request<'_>) -> Result<Response, ApiError> {
    let limit = match req.query_param("limit") {
        None => MAX_LIMIT,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(ApiError::new(400, format!("limit must be 1 to {MAX_LIMIT}"))),
        },
    };
    let q = req.query_param("q").unwrap_or_default().to_lowercase();
    let store = lock(store);
    let found: Vec<&Item> =
        store.items.values().filter(|i| i.name.to_lowercase().contains(&q)).take(limit).collect();
    Ok(Response::json(&found))
}

/// `POST /items` with a JSON [`NewItem`].
fn create(store: &Shared, req: &Request<'_>) -> Result<Response, ApiError> {
    let new: NewItem = req.json().map_err(|e| ApiError::new(400, e.to_string()))?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::new(422, format!("name must be 1 to {MAX_NAME} characters")));
    }
    let mut store = lock(store);
    store.next_id += 1;
    let item = Item { id: store.next_id, name: name.to_string(), price_cents: new.price_cents };
    store.items.insert(item.id, item.clone());
    Ok(Response::json(&item).with_status(201).with_header("Location", format!("/items/{}", item.id)))
}

/// `GET /items/:id`
fn show(store: &Shared, req: &Request<'_>) -> Result<Response, ApiError> {
    let id = item_id(req)?;
    let store = lock(store);
    let item = store.items.get(&id).ok_or_else(|| ApiError::new(404, format!("no item {id}")))?;
    Ok(Response::json(item))
}

/// `DELETE /items/:id`
fn delete(store: &Shared, req: &Request<'_>) -> Result<Response, ApiError> {
    let id = item_id(req)?;
    match lock(store).items.remove(&id) {
        Some(_) => Ok(Response::new(204)),
        None => Err(ApiError::new(404, format!("no item {id}"))),
    }
}

/// Rewrites the router's own plain-text errors (404, 405) as JSON.
fn json_errors(_req: &Request<'_>, resp: &mut Response) {
    let status = resp.status();
    if status < 400 || resp.header("content-type") == Some(b"application/json") {
        return;
    }
    let mut json = error_response(status, weir::http::status_reason(status));
    if let Some(allow) = resp.header("allow") {
        json.add_header("Allow", allow.to_vec());
    }
    *resp = json;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weir::block_shutdown_signals()?;
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3001".into());
    let store = Shared::default();
    let (s1, s2, s3, s4) = (store.clone(), store.clone(), store.clone(), store);
    let app = App::new()
        .middleware(middleware::after(json_errors))
        .get("/items", move |req| reply(list(&s1, req)))
        .post("/items", move |req| reply(create(&s2, req)))
        .get("/items/:id", move |req| reply(show(&s3, req)))
        .delete("/items/:id", move |req| reply(delete(&s4, req)));
    let server = Server::builder(app).listen(addr.parse()?).start()?;
    println!("listening on http://{}/items", server.local_addrs()[0]);
    Ok(server.run_until_signal()?)
}
