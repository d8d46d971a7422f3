//! Accepting: `accept4` until the queue is empty (within a per-turn
//! budget), the connection cap, the overload reply, and surviving `EMFILE`
//! with a reserve descriptor.

use std::fs::File;
use std::io;
use std::net::TcpStream;

use super::{Shard, ACCEPT_RETRY, ACCEPT_RETRY_MS};
use crate::conn::{flags, ConnIo, Slot};
use crate::ctx::Ctx;
use crate::protocol::Protocol;
use crate::stats::ShardStats;
use crate::sys::{io_ops, socket};
use crate::token::Token;
use crate::transport::Layer;

/// What `Shard::shed_with_reserve_fd` did with the listener's queue.
enum Shed {
    /// A client was turned away with the reserve descriptor.
    TurnedAway,
    /// Descriptors had freed up: the client was accepted as usual.
    Served,
    /// No client was waiting.
    QueueEmpty,
    /// No reserve descriptor to use.
    NoReserve,
}

impl<P: Protocol> Shard<P> {
    // ---------------------------------------------------------------- accept

    pub(super) fn accept_ready(&mut self, index: usize) {
        if self.accept_paused || index >= self.listeners.len() {
            return;
        }
        let mut budget = self.core.config.accepts_per_turn.max(1);
        loop {
            if budget == 0 {
                if !self.accept_again.contains(&index) {
                    self.accept_again.push(index);
                }
                return;
            }
            budget -= 1;
            if self.slab.len() >= self.core.config.max_connections
                && self.core.config.overload_response.is_none()
            {
                self.accept_paused = true;
                return;
            }
            match socket::accept(&self.listeners[index].socket) {
                Ok(stream) => self.admit(stream, index),
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {}
                    _ if is_fd_exhaustion(&e) => {
                        ShardStats::add(&self.stats().fd_exhausted, 1);
                        match self.shed_with_reserve_fd(index) {
                            Shed::TurnedAway | Shed::Served => {}
                            // `accept4` takes a descriptor before it looks
                            // at the queue, so `EMFILE` does not mean a
                            // client waits. Nothing did: the next client
                            // brings a new edge.
                            Shed::QueueEmpty => return,
                            Shed::NoReserve => {
                                // Wait, then try again. The listener stays
                                // readable in the kernel, but an
                                // edge-triggered loop would never hear of
                                // it, so a timer brings us back.
                                self.accept_paused = true;
                                let due = self.core.now_ms + ACCEPT_RETRY_MS;
                                self.core.wheel.schedule(Token::reserved(ACCEPT_RETRY), due);
                                return;
                            }
                        }
                    }
                    _ => {
                        ShardStats::add(&self.stats().accept_errors, 1);
                        return;
                    }
                },
            }
        }
    }

    /// Out of descriptors: free the reserve and accept one pending
    /// connection. If the reserve can then be taken back, descriptors have
    /// freed up since `accept` failed and the connection is served;
    /// otherwise it is turned away, which frees the descriptor the reserve
    /// is taken back with.
    fn shed_with_reserve_fd(&mut self, index: usize) -> Shed {
        let Some(reserve) = self.reserve_fd.take() else {
            return Shed::NoReserve;
        };
        drop(reserve);
        let accepted = socket::accept(&self.listeners[index].socket);
        self.reserve_fd = File::open("/dev/null").ok();
        match accepted {
            Ok(stream) if self.reserve_fd.is_some() => {
                self.admit(stream, index);
                Shed::Served
            }
            Ok(stream) => {
                self.reject(stream, index);
                self.reserve_fd = File::open("/dev/null").ok();
                Shed::TurnedAway
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Shed::QueueEmpty,
            // A client that gave up, a signal: look at the queue again.
            Err(_) => Shed::TurnedAway,
        }
    }

    /// An accepted connection: opened, or turned away at the connection cap.
    fn admit(&mut self, stream: TcpStream, listener: usize) {
        if self.slab.len() >= self.core.config.max_connections {
            self.reject(stream, listener);
        } else {
            self.open_conn(stream, listener);
        }
    }

    /// Turns a connection away, with the configured overload response if
    /// any (through the listener's transport factory, which may decline).
    fn reject(&mut self, stream: TcpStream, listener: usize) {
        if let Some(bytes) = self.core.config.overload_response {
            match &self.listeners[listener].transport {
                None => {
                    let _ = io_ops::write(&stream, bytes);
                }
                Some(factory) => factory.refuse(&stream, bytes),
            }
        }
        ShardStats::add(&self.stats().rejected, 1);
    }

    pub(super) fn accept_all(&mut self) {
        for i in 0..self.listeners.len() {
            self.accept_ready(i);
        }
    }

    fn open_conn(&mut self, stream: TcpStream, listener: usize) {
        if self.core.config.nodelay {
            let _ = socket::set_nodelay(&stream, true);
        }
        let Some(token) = self.slab.next_token() else {
            self.reject(stream, listener);
            return;
        };
        let layer = match &self.listeners[listener].transport {
            None => None,
            Some(factory) => match factory.wrap(&stream) {
                Ok(transport) => Some(Box::new(Layer { transport })),
                Err(_) => {
                    ShardStats::add(&self.stats().accept_errors, 1);
                    return;
                }
            },
        };
        if self.core.poller.register_conn(&stream, token).is_err() {
            ShardStats::add(&self.stats().accept_errors, 1);
            return;
        }
        let mut io = ConnIo::new(stream, self.listeners[listener].tag);
        if layer.is_some() {
            io.flags |= flags::TRANSPORT;
        }
        io.layer = layer;
        // A fresh socket has an empty send buffer: writable until proven otherwise.
        io.flags |= flags::WRITABLE;
        let state = {
            let mut cx = Ctx { token, io: &mut io, core: &mut self.core, driven: false, peer: None };
            self.proto.on_open(&mut cx)
        };
        if self.core.config.read_on_accept {
            io.flags |= flags::READABLE;
        }
        let inserted = self.slab.insert(Slot { io, state });
        debug_assert_eq!(inserted, token);
        ShardStats::add(&self.stats().accepted, 1);
        if self.core.config.read_on_accept {
            // (The registration above was edge-triggered: if this read
            // empties the socket, the readiness epoll noted at `ADD` is
            // re-checked when it would be reported, and dropped.)
            self.drive(token);
        }
    }
}

fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
