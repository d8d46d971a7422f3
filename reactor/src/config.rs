//! Tunables of a shard, with the reasoning behind each default.

use std::time::Duration;

/// Configuration shared by every shard of a runtime.
#[derive(Debug, Clone)]
pub struct ShardConfig {
    /// Most connections one shard holds at once. At the cap the shard stops
    /// accepting (the kernel's backlog holds newcomers) or, with
    /// [`ShardConfig::overload_response`], accepts and rejects them.
    pub max_connections: usize,
    /// The `listen(2)` backlog of each listener.
    pub backlog: u32,
    /// Set `TCP_NODELAY` on accepted sockets (responses go out at once).
    pub nodelay: bool,
    /// Pin shard *i* to the *i*-th allowed CPU.
    pub pin_cores: bool,
    /// Size of the shard-wide scratch buffer every `read` goes into.
    pub read_scratch: usize,
    /// Capacity of a pooled per-connection read buffer (for partial messages).
    pub read_buffer: usize,
    /// Capacity of a pooled write staging buffer ([`Ctx::write_copy`](crate::Ctx::write_copy)).
    pub write_buffer: usize,
    /// A connection whose unconsumed input exceeds this is closed: the
    /// protocol should have consumed or rejected it long before.
    pub max_pending_input: usize,
    /// How long a gracefully closed connection may linger, draining input
    /// after its last response, so that unread input does not turn the close
    /// into a reset that destroys the response in flight.
    pub linger: Duration,
    /// Most bytes discarded while lingering.
    pub max_linger_bytes: usize,
    /// Events taken per `epoll_wait`.
    pub events_per_wait: usize,
    /// Timer wheel resolution.
    pub timer_tick: Duration,
    /// Bytes written to a connection that is accepted but refused because
    /// the shard is full or out of descriptors (e.g. an HTTP 503), before it
    /// is closed. `None`: stop accepting while full instead.
    pub overload_response: Option<&'static [u8]>,
    /// How many reads one connection may do before others get their turn.
    pub reads_per_turn: usize,
    /// Read a new connection at once, without waiting for its first
    /// readiness event. For protocols whose clients speak first (HTTP): a
    /// request that arrived with the handshake (usual on a fast network,
    /// and always by the time a busy shard accepts) is answered one loop
    /// turn sooner; when nothing is there yet it costs one `read` that finds
    /// nothing. Off by default: a server-speaks-first protocol gains nothing.
    pub read_on_accept: bool,
    /// Most connections accepted per listener per loop turn; the rest wait
    /// for the next turn, so a stream of new connections (each read at
    /// once with [`ShardConfig::read_on_accept`]) cannot starve established
    /// ones or the timers.
    pub accepts_per_turn: usize,
    /// How often `Protocol::on_tick` runs (`None`: never).
    pub tick: Option<Duration>,
    /// Envelopes the shard's bounded data inbox holds (see
    /// [`ShardHandle::try_send`](crate::ShardHandle::try_send)); past it,
    /// senders are refused at once instead of growing the shard's memory.
    pub inbox_capacity: usize,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            max_connections: 100_000,
            backlog: 4096,
            nodelay: true,
            pin_cores: false,
            read_scratch: 64 * 1024,
            read_buffer: 4 * 1024,
            write_buffer: 4 * 1024,
            max_pending_input: 1024 * 1024,
            linger: Duration::from_secs(2),
            max_linger_bytes: 256 * 1024,
            events_per_wait: 1024,
            timer_tick: Duration::from_millis(10),
            overload_response: None,
            reads_per_turn: 16,
            read_on_accept: false,
            accepts_per_turn: 64,
            tick: None,
            inbox_capacity: 64 * 1024,
        }
    }
}
