//! The pub/sub relay endpoint (`TopicRelay`, served by the binary at
//! `/ws/pubsub/:topic`), checked with an independent client.

mod common;

use std::net::TcpStream;

use common::TestServer;
use tungstenite::Message as TMessage;
use weir::ws::WsRoute;
use weir::{App, ServerConfig, TopicRelay};

type Ws = tungstenite::WebSocket<TcpStream>;

fn connect(srv: &TestServer, topic: &str) -> Ws {
    srv.ws_connect(&format!("/ws/pubsub/{topic}"))
}

fn next_text(ws: &mut Ws) -> String {
    common::ws_next_text(ws)
}

#[test]
fn relay_sends_each_message_to_every_subscriber_of_its_topic_only() {
    let app = App::new().ws("/ws/pubsub/:topic", WsRoute::new(TopicRelay));
    let srv = TestServer::with_config(app, ServerConfig::default(), 2);
    // Subscribed on open: the 101 means the subscription is in place.
    let mut subs: Vec<Ws> = (0..8).map(|_| connect(&srv, "t")).collect();
    let mut other = connect(&srv, "u");
    let mut publisher = connect(&srv, "t");
    for i in 0..20 {
        publisher.send(TMessage::Text(format!("m{i}"))).unwrap();
    }
    other.send(TMessage::Text("only u".into())).unwrap();
    for ws in subs.iter_mut().chain(std::iter::once(&mut publisher)) {
        for i in 0..20 {
            assert_eq!(next_text(ws), format!("m{i}"), "in order, once, the sender included");
        }
    }
    // The other topic heard only its own message.
    assert_eq!(next_text(&mut other), "only u");
    publisher.send(TMessage::Text("last".into())).unwrap();
    assert_eq!(next_text(&mut subs[0]), "last");
}
