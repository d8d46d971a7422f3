//! The server side of one HTTP/2 connection (RFC 9113 §3.4, §5, §6):
//! preface, SETTINGS, streams, flow control, GOAWAY, and the budget.
//!
//! ```text
//!   bytes ──▶ Connection::recv ──▶ (consumed, Option<Event>)   one frame a call
//!               preface → SETTINGS → frames; header blocks assembled
//!               across CONTINUATION (bounded) and decoded (HPACK, bounded)
//!   app   ──▶ send_response / send_data / release / reset / shutdown
//!   Connection::take_output ──▶ bytes to write (SETTINGS ACK, PING ACK,
//!               WINDOW_UPDATE, RST_STREAM, GOAWAY, HEADERS, DATA)
//! ```
//!
//! A stream's life on the server (§5.1), as kept here:
//!
//! ```text
//!   idle ──HEADERS──▶ open ──END_STREAM in──▶ half-closed (remote)
//!                      │                          │ response END_STREAM out
//!                      │ response END_STREAM out  ▼
//!                      └──▶ half-closed (local) ──▶ closed
//!   any ──RST_STREAM (either way), or a stream error──▶ closed
//! ```
//!
//! Only open and half-closed streams are stored (a few words each, at most
//! `max_concurrent_streams` of them). A closed stream is one whose id is at
//! most the highest the peer opened and that is not stored; the last few
//! streams *this side* reset are remembered, so that frames the peer sent
//! before it saw the RST_STREAM are ignored rather than taken as errors
//! (§5.1, "closed").
//!
//! **Flow control** (§5.2, §6.9). Received DATA is charged to the
//! connection's and the stream's receive windows; they are reopened by
//! WINDOW_UPDATE only when the application says it consumed the bytes
//! ([`Connection::release`]), so a handler that does not read is
//! backpressure on its client, not memory here. Padding is released at
//! once. Sending is limited by the peer's windows:
//! [`Connection::send_data`] takes what fits and says how much.
//!
//! **Bounds.** Frames larger than our SETTINGS_MAX_FRAME_SIZE, header
//! blocks larger than `max_header_block` (CONTINUATION floods), header lists
//! past `max_header_list_size` or `max_header_fields` (answered 431), more
//! than `max_concurrent_streams` streams (refused), and the cost budget
//! (module `budget`) for frames that do no work.
//!
//! Receiving lives here; the application's side (releasing DATA,
//! responses, sending within the windows, resets, GOAWAY) is in `send`.

use crate::budget::{Budget, Cost};
use crate::error::{ErrorCode, H2Error};
use crate::frame::{self, decode_frame, kind, setting, Frame, FrameHeader, FRAME_HEADER_LEN, MAX_WINDOW};
use crate::hpack::{DecodeLimits, Decoder, Encoder, HeaderList, HpackError, IndexMode, DEFAULT_TABLE_SIZE};
use crate::request::{validate_request, validate_trailers, RequestHead};

/// The PING payload of the first phase of a graceful shutdown.
const SHUTDOWN_PING: [u8; 8] = *b"weir-bye";
/// Streams recently closed, remembered to tell a closed stream from one
/// never opened, and to ignore the peer's late frames on streams this side reset.
const RECENT_CLOSED: usize = 64;

/// What a server announces and enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams open at once.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window.
    pub initial_window_size: u32,
    /// The connection's receive window (raised from 65,535 at the start).
    pub connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload accepted.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the largest decoded header list
    /// (name + value + 32 per field); larger requests are answered 431.
    pub max_header_list_size: u32,
    /// The most fields in a header list (431 beyond).
    pub max_header_fields: usize,
    /// SETTINGS_HEADER_TABLE_SIZE: the decoder's dynamic table.
    pub header_table_size: u32,
    /// The largest compressed header block, HEADERS and CONTINUATION
    /// together; beyond it the connection ends (ENHANCE_YOUR_CALM).
    pub max_header_block: usize,
    /// Units of budget (module `budget`) beyond what useful work earns.
    pub budget: u32,
    /// How the response encoder uses its dynamic table.
    pub index_mode: IndexMode,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_streams: 128,
            initial_window_size: frame::DEFAULT_WINDOW,
            connection_window: 1 << 20,
            max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: 32 * 1024,
            max_header_fields: 100,
            header_table_size: DEFAULT_TABLE_SIZE as u32,
            max_header_block: 64 * 1024,
            budget: 256,
            index_mode: IndexMode::Indexing,
        }
    }
}

/// What [`Connection::recv`] found.
#[derive(Debug)]
pub enum Event<'a> {
    /// A new request.
    Request {
        /// Its stream.
        stream: u32,
        /// Its valid header list.
        head: Box<RequestHead>,
        /// No body follows.
        end_stream: bool,
    },
    /// Request body bytes (pass them to [`Connection::release`] once
    /// consumed). Empty with `end_stream` after trailers.
    Data {
        /// The stream.
        stream: u32,
        /// The bytes.
        data: &'a [u8],
        /// The body is complete.
        end_stream: bool,
    },
    /// A stream the application knows ended without completing: the peer
    /// reset it, or its input broke a rule (this side sent RST_STREAM).
    /// Drop its state; sends on it are refused from now on.
    Reset {
        /// The stream.
        stream: u32,
        /// Why.
        code: ErrorCode,
    },
    /// Send windows grew: pending response data may go now.
    WindowOpened,
    /// The peer sent GOAWAY.
    GoAway {
        /// The last stream it may process.
        last_stream: u32,
        /// Why.
        code: ErrorCode,
    },
    /// The connection is over (a connection error was answered with
    /// GOAWAY): write the output, then close.
    Closed {
        /// The GOAWAY's code.
        code: ErrorCode,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the 24-byte preface; `n` bytes matched.
    Preface(usize),
    /// The preface is in; the next frame must be SETTINGS (§3.4).
    FirstSettings,
    Open,
    /// A connection error was sent; input is ignored.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    None,
    /// GOAWAY(2^31-1) and a PING sent; waiting for the PING's ACK.
    Announced,
    /// The final GOAWAY named this last stream.
    Final(u32),
}

/// One open or half-closed stream.
#[derive(Debug)]
struct Stream {
    id: u32,
    /// The peer may still send (no END_STREAM yet).
    recv_open: bool,
    /// The response has begun (HEADERS sent).
    send_started: bool,
    /// The response is complete (END_STREAM sent).
    send_done: bool,
    recv_window: i64,
    /// Bytes consumed by the application and not yet given back by WINDOW_UPDATE.
    recv_unreleased: u32,
    send_window: i64,
    content_length: Option<u64>,
    received: u64,
}

/// What a header block in assembly will become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockFor {
    /// A new stream's request.
    Request,
    /// Trailers of an open stream.
    Trailers,
    /// Decoded only to keep HPACK in step: a stream already closed, or
    /// beyond the final GOAWAY.
    Ignore,
    /// Decoded, then this stream error.
    Error(ErrorCode),
    /// Decoded, then the stream is refused (too many streams).
    Refuse,
}

#[derive(Debug)]
struct Pending {
    stream: u32,
    end_stream: bool,
    purpose: BlockFor,
}

/// The server side of an HTTP/2 connection.
#[derive(Debug)]
pub struct Connection {
    cfg: Config,
    state: State,
    out: Vec<u8>,
    decoder: Decoder,
    encoder: Encoder,
    /// Scratch for decoded lists and encoded blocks (reused).
    list: HeaderList,
    block: Vec<u8>,
    pending: Option<Pending>,
    // The peer's settings.
    peer_initial_window: u32,
    peer_max_frame: u32,
    peer_max_streams: u32,
    streams: Vec<Stream>,
    last_peer_stream: u32,
    /// `(stream, reset by this side)`, a ring.
    recent_closed: [(u32, bool); RECENT_CLOSED],
    recent_at: usize,
    recv_window: i64,
    recv_unreleased: u32,
    send_window: i64,
    shutdown: Shutdown,
    budget: Budget,
}

fn stream_err(id: u32, code: ErrorCode) -> H2Error {
    H2Error::Stream(id, code)
}

fn conn_err(code: ErrorCode) -> H2Error {
    H2Error::Connection(code)
}

impl Connection {
    /// A server connection; our SETTINGS (and a WINDOW_UPDATE raising the
    /// connection window) are queued as output at once (§3.4: the server
    /// preface may be sent before the client's arrives).
    pub fn new(cfg: Config) -> Connection {
        let mut out = Vec::with_capacity(64);
        frame::encode_settings(
            &mut out,
            &[
                (setting::MAX_CONCURRENT_STREAMS, cfg.max_concurrent_streams),
                (setting::INITIAL_WINDOW_SIZE, cfg.initial_window_size.min(MAX_WINDOW)),
                (
                    setting::MAX_FRAME_SIZE,
                    cfg.max_frame_size.clamp(frame::DEFAULT_MAX_FRAME_SIZE, frame::MAX_MAX_FRAME_SIZE),
                ),
                (setting::MAX_HEADER_LIST_SIZE, cfg.max_header_list_size),
                (setting::HEADER_TABLE_SIZE, cfg.header_table_size),
                (setting::ENABLE_PUSH, 0),
            ],
        );
        let window = cfg.connection_window.clamp(frame::DEFAULT_WINDOW, MAX_WINDOW);
        if window > frame::DEFAULT_WINDOW {
            frame::encode_window_update(&mut out, 0, window - frame::DEFAULT_WINDOW);
        }
        Connection {
            state: State::Preface(0),
            out,
            decoder: Decoder::new(cfg.header_table_size as usize),
            encoder: Encoder::new(cfg.index_mode),
            list: HeaderList::new(),
            block: Vec::new(),
            pending: None,
            peer_initial_window: frame::DEFAULT_WINDOW,
            peer_max_frame: frame::DEFAULT_MAX_FRAME_SIZE,
            peer_max_streams: u32::MAX,
            streams: Vec::new(),
            last_peer_stream: 0,
            recent_closed: [(0, false); RECENT_CLOSED],
            recent_at: 0,
            recv_window: i64::from(window),
            recv_unreleased: 0,
            send_window: i64::from(frame::DEFAULT_WINDOW),
            shutdown: Shutdown::None,
            budget: Budget::new(cfg.budget),
            cfg,
        }
    }

    // ---------------------------------------------------------- queries

    /// Bytes waiting to be written.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Takes the bytes waiting to be written.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// True once nothing more will happen: after a connection error, or
    /// after the final GOAWAY with no stream left.
    pub fn is_done(&self) -> bool {
        self.state == State::Closed
            || (matches!(self.shutdown, Shutdown::Final(_)) && self.streams.is_empty())
    }

    /// Streams open or half-closed.
    pub fn active_streams(&self) -> usize {
        self.streams.len()
    }

    /// The cost budget (for its counters).
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The largest frame the peer accepts.
    pub fn peer_max_frame_size(&self) -> usize {
        self.peer_max_frame as usize
    }

    /// The most streams the peer lets this side open (it opens none: no push).
    pub fn peer_max_concurrent_streams(&self) -> u32 {
        self.peer_max_streams
    }

    fn find(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// A stream is idle if the peer never opened it (§5.1.1: client
    /// streams are odd; server streams, which this side never opens, even).
    fn is_idle(&self, id: u32) -> bool {
        id.is_multiple_of(2) || id > self.last_peer_stream
    }

    /// Whether `id` closed recently, and if so whether this side reset it.
    fn recently_closed(&self, id: u32) -> Option<bool> {
        self.recent_closed.iter().find(|(s, _)| *s == id).map(|&(_, by_us)| by_us)
    }

    fn note_closed(&mut self, id: u32, by_us: bool) {
        if let Some(slot) = self.recent_closed.iter_mut().find(|(s, _)| *s == id) {
            slot.1 |= by_us;
            return;
        }
        self.recent_closed[self.recent_at] = (id, by_us);
        self.recent_at = (self.recent_at + 1) % RECENT_CLOSED;
    }

    // ------------------------------------------------------------ input

    /// Reads at most one frame (or part of the preface) from `input`.
    /// Returns the bytes consumed (0: more input is needed) and what the
    /// application must know, if anything. Call again until it returns 0.
    pub fn recv<'a>(&mut self, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        match self.state {
            State::Closed => return (input.len(), None),
            State::Preface(seen) => {
                let n = input.len().min(frame::PREFACE.len() - seen);
                if input[..n] != frame::PREFACE[seen..seen + n] {
                    return (input.len(), self.fail(conn_err(ErrorCode::ProtocolError)));
                }
                self.state = if seen + n == frame::PREFACE.len() {
                    State::FirstSettings
                } else {
                    State::Preface(seen + n)
                };
                return (n, None);
            }
            State::FirstSettings | State::Open => {}
        }
        let Some(h) = FrameHeader::parse(input) else { return (0, None) };
        if h.len > self.cfg.max_frame_size.max(frame::DEFAULT_MAX_FRAME_SIZE) {
            // §4.2: a frame that may alter the whole connection's state
            // (HEADERS, SETTINGS, ...) must be a connection error; a large
            // DATA frame may be a stream error, but nothing is gained.
            return (input.len(), self.fail(conn_err(ErrorCode::FrameSizeError)));
        }
        let total = FRAME_HEADER_LEN + h.len as usize;
        let Some(payload) = input.get(FRAME_HEADER_LEN..total) else { return (0, None) };
        let ev = match self.on_frame(&h, payload) {
            Ok(ev) => ev,
            Err(e) => self.fail(e),
        };
        if self.state != State::Closed && self.budget.is_exhausted() {
            return (total, self.fail(conn_err(ErrorCode::EnhanceYourCalm)));
        }
        (total, ev)
    }

    /// Answers an error: GOAWAY for the connection, RST_STREAM for a stream.
    fn fail<'a>(&mut self, e: H2Error) -> Option<Event<'a>> {
        match e {
            H2Error::Connection(code) => {
                if self.state != State::Closed {
                    frame::encode_goaway(&mut self.out, self.last_peer_stream, code, b"");
                    self.state = State::Closed;
                }
                Some(Event::Closed { code })
            }
            H2Error::Stream(id, code) => {
                self.budget.charge(Cost::ServerReset);
                self.reset_stream(id, code)
            }
        }
    }

    /// Sends RST_STREAM and forgets the stream; `Reset` if it was known.
    fn reset_stream<'a>(&mut self, id: u32, code: ErrorCode) -> Option<Event<'a>> {
        frame::encode_rst_stream(&mut self.out, id, code);
        self.note_closed(id, true);
        let i = self.find(id)?;
        self.remove(i);
        Some(Event::Reset { stream: id, code })
    }

    fn remove(&mut self, i: usize) {
        let s = self.streams.swap_remove(i);
        self.note_closed(s.id, false);
    }

    fn on_frame<'a>(&mut self, h: &FrameHeader, payload: &'a [u8]) -> Result<Option<Event<'a>>, H2Error> {
        if let Some(p) = &self.pending {
            // §6.10: a header block is contiguous: "any other type or a
            // frame on a different stream MUST be treated as a connection
            // error of type PROTOCOL_ERROR."
            if h.kind != kind::CONTINUATION || h.stream != p.stream {
                return Err(conn_err(ErrorCode::ProtocolError));
            }
        }
        let f = decode_frame(h, payload)?;
        if self.state == State::FirstSettings {
            if !matches!(f, Frame::Settings { ack: false, .. }) {
                return Err(conn_err(ErrorCode::ProtocolError));
            }
            self.state = State::Open;
            self.budget.earn(1); // the first SETTINGS is free
        }
        match f {
            Frame::Data { stream, end_stream, data, flow_len } => {
                self.on_data(stream, end_stream, data, flow_len)
            }
            Frame::Headers { stream, end_stream, end_headers, priority, fragment } => {
                if stream.is_multiple_of(2) {
                    return Err(conn_err(ErrorCode::ProtocolError));
                }
                if fragment.is_empty() && !end_headers {
                    self.budget.charge(Cost::EmptyFrame);
                }
                let purpose = self.headers_purpose(stream, end_stream)?;
                // §5.3.1: "A stream cannot depend on itself."
                let purpose = match priority {
                    Some(p) if p.dependency == stream && purpose == BlockFor::Request => {
                        BlockFor::Error(ErrorCode::ProtocolError)
                    }
                    _ => purpose,
                };
                let pending = Pending { stream, end_stream, purpose };
                if end_headers {
                    return self.on_block(pending, fragment);
                }
                self.block.clear();
                self.append_block(fragment)?;
                self.pending = Some(pending);
                Ok(None)
            }
            Frame::Continuation { stream: _, end_headers, fragment } => {
                let Some(pending) = self.pending.take() else {
                    // A CONTINUATION not following HEADERS (§6.10).
                    return Err(conn_err(ErrorCode::ProtocolError));
                };
                self.budget.charge(Cost::Continuation);
                if fragment.is_empty() && !end_headers {
                    self.budget.charge(Cost::EmptyFrame);
                }
                self.append_block(fragment)?;
                if !end_headers {
                    self.pending = Some(pending);
                    return Ok(None);
                }
                let block = std::mem::take(&mut self.block);
                let ev = self.on_block(pending, &block);
                self.block = block;
                ev
            }
            Frame::Priority { stream, priority } => {
                self.budget.charge(Cost::Priority);
                if priority.dependency == stream {
                    return Err(stream_err(stream, ErrorCode::ProtocolError));
                }
                Ok(None)
            }
            Frame::RstStream { stream, code } => {
                if self.is_idle(stream) {
                    return Err(conn_err(ErrorCode::ProtocolError));
                }
                let Some(i) = self.find(stream) else { return Ok(None) };
                if !self.streams[i].send_done {
                    self.budget.charge(Cost::PeerReset);
                }
                self.remove(i);
                Ok(Some(Event::Reset { stream, code }))
            }
            Frame::Settings { ack: true, .. } => Ok(None),
            Frame::Settings { ack: false, params } => self.on_settings(params),
            Frame::PushPromise { .. } => Err(conn_err(ErrorCode::ProtocolError)),
            Frame::Ping { ack: true, data } => {
                if data == SHUTDOWN_PING && self.shutdown == Shutdown::Announced {
                    self.final_goaway();
                }
                Ok(None)
            }
            Frame::Ping { ack: false, data } => {
                self.budget.charge(Cost::Ping);
                frame::encode_ping(&mut self.out, true, data);
                Ok(None)
            }
            Frame::GoAway { last_stream, code, .. } => Ok(Some(Event::GoAway { last_stream, code })),
            Frame::WindowUpdate { stream, increment } => self.on_window_update(stream, increment),
            Frame::Unknown { .. } => {
                self.budget.charge(Cost::Priority);
                Ok(None)
            }
        }
    }

    fn append_block(&mut self, fragment: &[u8]) -> Result<(), H2Error> {
        if self.block.len() + fragment.len() > self.cfg.max_header_block {
            // A CONTINUATION flood, or a block no request needs.
            self.budget.charge(Cost::Continuation);
            return Err(conn_err(ErrorCode::EnhanceYourCalm));
        }
        self.block.extend_from_slice(fragment);
        Ok(())
    }

    /// What a HEADERS frame on `id` starts (§5.1).
    fn headers_purpose(&mut self, id: u32, end_stream: bool) -> Result<BlockFor, H2Error> {
        if id <= self.last_peer_stream {
            return Ok(match self.find(id) {
                // §8.1: trailers end the stream.
                Some(i) if self.streams[i].recv_open => {
                    if end_stream {
                        BlockFor::Trailers
                    } else {
                        BlockFor::Error(ErrorCode::ProtocolError)
                    }
                }
                // Half-closed (remote): "STREAM_CLOSED".
                Some(_) => BlockFor::Error(ErrorCode::StreamClosed),
                None => match self.recently_closed(id) {
                    // Sent before the peer saw our RST_STREAM: ignored.
                    Some(true) => BlockFor::Ignore,
                    // Closed: "MAY treat ... as a connection error of type STREAM_CLOSED".
                    Some(false) => return Err(conn_err(ErrorCode::StreamClosed)),
                    // Never opened, and below the last id opened: "MUST be
                    // numerically greater than all streams that the
                    // initiating endpoint has opened" (§5.1.1).
                    None => return Err(conn_err(ErrorCode::ProtocolError)),
                },
            });
        }
        // A new stream: ids only grow (§5.1.1); checked above.
        self.last_peer_stream = id;
        if let Shutdown::Final(last) = self.shutdown {
            if id > last {
                return Ok(BlockFor::Ignore);
            }
        }
        if self.streams.len() >= self.cfg.max_concurrent_streams as usize {
            return Ok(BlockFor::Refuse);
        }
        Ok(BlockFor::Request)
    }

    /// A complete header block.
    fn on_block<'a>(&mut self, p: Pending, block: &[u8]) -> Result<Option<Event<'a>>, H2Error> {
        let limits = DecodeLimits {
            max_list_size: self.cfg.max_header_list_size as usize,
            max_fields: self.cfg.max_header_fields,
        };
        let mut list = std::mem::take(&mut self.list);
        let decoded = self.decoder.decode(block, limits, &mut list);
        let id = p.stream;
        let result = match (decoded, p.purpose) {
            (Err(HpackError::Compression), _) => Err(conn_err(ErrorCode::CompressionError)),
            (_, BlockFor::Ignore) => Ok(None),
            (_, BlockFor::Error(code)) => Err(stream_err(id, code)),
            (_, BlockFor::Refuse) => {
                self.budget.charge(Cost::Refused);
                Ok(self.reset_stream(id, ErrorCode::RefusedStream))
            }
            (Err(_), BlockFor::Request) => {
                // Over the list or field limit: answered 431 here, since
                // the application never sees the request.
                self.budget.charge(Cost::HeaderBomb);
                self.open_stream(id, p.end_stream, None);
                self.send_response(id, 431, std::iter::empty(), true);
                Ok(None)
            }
            (Ok(()), BlockFor::Request) => {
                let taken = std::mem::take(&mut list);
                match validate_request(taken) {
                    Err(_) => Err(stream_err(id, ErrorCode::ProtocolError)),
                    Ok(head) => {
                        if p.end_stream && head.content_length().is_some_and(|n| n != 0) {
                            return Err(stream_err(id, ErrorCode::ProtocolError));
                        }
                        self.open_stream(id, p.end_stream, head.content_length());
                        Ok(Some(Event::Request {
                            stream: id,
                            head: Box::new(head),
                            end_stream: p.end_stream,
                        }))
                    }
                }
            }
            (Err(_), BlockFor::Trailers) => {
                self.budget.charge(Cost::HeaderBomb);
                Err(stream_err(id, ErrorCode::ProtocolError))
            }
            (Ok(()), BlockFor::Trailers) => {
                if validate_trailers(&list).is_err() {
                    Err(stream_err(id, ErrorCode::ProtocolError))
                } else {
                    self.end_of_input(id)
                }
            }
        };
        list.clear();
        self.list = list;
        result
    }

    fn open_stream(&mut self, id: u32, end_stream: bool, content_length: Option<u64>) {
        self.streams.push(Stream {
            id,
            recv_open: !end_stream,
            send_started: false,
            send_done: false,
            recv_window: i64::from(self.cfg.initial_window_size),
            recv_unreleased: 0,
            send_window: i64::from(self.peer_initial_window),
            content_length,
            received: 0,
        });
    }

    /// END_STREAM from the peer on a stored stream.
    fn end_of_input<'a>(&mut self, id: u32) -> Result<Option<Event<'a>>, H2Error> {
        let Some(i) = self.find(id) else { return Ok(None) };
        let s = &mut self.streams[i];
        // §8.1.1: a content-length that the DATA frames do not add up to.
        if s.content_length.is_some_and(|n| n != s.received) {
            return Err(stream_err(id, ErrorCode::ProtocolError));
        }
        s.recv_open = false;
        if s.send_done {
            self.remove(i);
        }
        Ok(Some(Event::Data { stream: id, data: &[], end_stream: true }))
    }

    fn on_data<'a>(
        &mut self,
        id: u32,
        end_stream: bool,
        data: &'a [u8],
        flow_len: u32,
    ) -> Result<Option<Event<'a>>, H2Error> {
        // §6.9.1: the connection window counts every DATA frame, whatever
        // happens to its stream.
        if i64::from(flow_len) > self.recv_window {
            return Err(conn_err(ErrorCode::FlowControlError));
        }
        self.recv_window -= i64::from(flow_len);
        let Some(i) = self.find(id) else {
            if self.is_idle(id) {
                return Err(conn_err(ErrorCode::ProtocolError));
            }
            if self.recently_closed(id) == Some(true) {
                self.give_back(None, flow_len);
                return Ok(None);
            }
            return Err(conn_err(ErrorCode::StreamClosed));
        };
        let s = &mut self.streams[i];
        if !s.recv_open {
            self.give_back(None, flow_len);
            return Err(stream_err(id, ErrorCode::StreamClosed));
        }
        if i64::from(flow_len) > s.recv_window {
            self.give_back(None, flow_len);
            return Err(stream_err(id, ErrorCode::FlowControlError));
        }
        s.recv_window -= i64::from(flow_len);
        s.received += data.len() as u64;
        if s.content_length.is_some_and(|n| s.received > n) {
            self.give_back(None, flow_len);
            return Err(stream_err(id, ErrorCode::ProtocolError));
        }
        let padding = flow_len - data.len() as u32;
        if padding > 0 {
            self.give_back(Some(i), padding);
        }
        if data.is_empty() && !end_stream {
            self.budget.charge(Cost::EmptyFrame);
        } else if !data.is_empty() {
            self.budget.earn(1);
        }
        if end_stream {
            return Ok(self.end_of_input(id)?.map(|_| Event::Data { stream: id, data, end_stream: true }));
        }
        Ok(Some(Event::Data { stream: id, data, end_stream: false }))
    }

    fn on_settings<'a>(&mut self, params: &[u8]) -> Result<Option<Event<'a>>, H2Error> {
        self.budget.charge(Cost::Settings);
        let mut opened = false;
        for (id, v) in frame::settings(params) {
            match id {
                setting::HEADER_TABLE_SIZE => self.encoder.set_peer_max(v as usize),
                setting::ENABLE_PUSH if v > 1 => return Err(conn_err(ErrorCode::ProtocolError)),
                setting::MAX_CONCURRENT_STREAMS => self.peer_max_streams = v,
                setting::INITIAL_WINDOW_SIZE => {
                    if v > MAX_WINDOW {
                        return Err(conn_err(ErrorCode::FlowControlError));
                    }
                    // §6.9.2: every stream's send window moves by the difference.
                    let delta = i64::from(v) - i64::from(self.peer_initial_window);
                    self.peer_initial_window = v;
                    for s in &mut self.streams {
                        s.send_window += delta;
                        if s.send_window > i64::from(MAX_WINDOW) {
                            return Err(conn_err(ErrorCode::FlowControlError));
                        }
                    }
                    opened |= delta > 0;
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME_SIZE..=frame::MAX_MAX_FRAME_SIZE).contains(&v) {
                        return Err(conn_err(ErrorCode::ProtocolError));
                    }
                    self.peer_max_frame = v;
                }
                _ => {} // MAX_HEADER_LIST_SIZE is advisory; unknown ones are ignored (§6.5.2)
            }
        }
        frame::encode_settings_ack(&mut self.out);
        Ok(opened.then_some(Event::WindowOpened))
    }

    fn on_window_update<'a>(&mut self, id: u32, inc: u32) -> Result<Option<Event<'a>>, H2Error> {
        self.budget.charge(Cost::WindowUpdate);
        if id == 0 {
            if inc == 0 {
                return Err(conn_err(ErrorCode::ProtocolError));
            }
            self.send_window += i64::from(inc);
            if self.send_window > i64::from(MAX_WINDOW) {
                return Err(conn_err(ErrorCode::FlowControlError));
            }
            return Ok(Some(Event::WindowOpened));
        }
        if self.is_idle(id) {
            return Err(conn_err(ErrorCode::ProtocolError));
        }
        let Some(i) = self.find(id) else { return Ok(None) };
        if inc == 0 {
            return Err(stream_err(id, ErrorCode::ProtocolError));
        }
        let s = &mut self.streams[i];
        s.send_window += i64::from(inc);
        if s.send_window > i64::from(MAX_WINDOW) {
            return Err(stream_err(id, ErrorCode::FlowControlError));
        }
        Ok(Some(Event::WindowOpened))
    }
}

mod send;

#[cfg(test)]
mod tests;
