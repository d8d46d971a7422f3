//! The application's side of a [`Connection`]: releasing received DATA
//! (which reopens the peer's windows), sending responses and DATA within
//! the send windows, resetting streams, and the two-phase GOAWAY.

use super::*;

impl Connection {
    /// The application consumed `n` bytes of `stream`'s DATA: the windows
    /// reopen (WINDOW_UPDATE once half a window is owed, not per byte).
    pub fn release(&mut self, stream: u32, n: usize) {
        let n = u32::try_from(n).unwrap_or(MAX_WINDOW);
        let i = self.find(stream).filter(|&i| self.streams[i].recv_open);
        self.give_back(i, n);
    }

    pub(super) fn give_back(&mut self, stream: Option<usize>, n: u32) {
        if self.state == State::Closed || n == 0 {
            return;
        }
        self.recv_unreleased = self.recv_unreleased.saturating_add(n);
        let conn_target = self.cfg.connection_window.clamp(frame::DEFAULT_WINDOW, MAX_WINDOW);
        if self.recv_unreleased >= conn_target / 2 {
            frame::encode_window_update(&mut self.out, 0, self.recv_unreleased);
            self.recv_window += i64::from(self.recv_unreleased);
            self.recv_unreleased = 0;
        }
        let Some(i) = stream else { return };
        let s = &mut self.streams[i];
        s.recv_unreleased = s.recv_unreleased.saturating_add(n);
        if s.recv_unreleased >= self.cfg.initial_window_size / 2 {
            frame::encode_window_update(&mut self.out, s.id, s.recv_unreleased);
            s.recv_window += i64::from(s.recv_unreleased);
            s.recv_unreleased = 0;
        }
    }

    /// Sends a response head: `:status`, then `fields` (names lowercase,
    /// no connection-specific fields). Returns false if the stream is gone
    /// (reset) or already answered.
    pub fn send_response<'f>(
        &mut self,
        stream: u32,
        status: u16,
        fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
        end_stream: bool,
    ) -> bool {
        if self.state == State::Closed {
            return false;
        }
        let Some(i) = self.find(stream).filter(|&i| !self.streams[i].send_started) else { return false };
        self.streams[i].send_started = true;
        let mut block = std::mem::take(&mut self.block);
        block.clear();
        self.encoder.begin(&mut block);
        let mut digits = [0u8; 3];
        let status = status.clamp(100, 999);
        digits[0] = b'0' + (status / 100) as u8;
        digits[1] = b'0' + (status / 10 % 10) as u8;
        digits[2] = b'0' + (status % 10) as u8;
        self.encoder.encode_field(b":status", &digits, &mut block);
        for (n, v) in fields {
            self.encoder.encode_field(n, v, &mut block);
        }
        frame::encode_headers(&mut self.out, stream, &block, end_stream, self.peer_max_frame as usize);
        self.block = block;
        if end_stream {
            self.end_of_output(i);
        }
        true
    }

    /// How many bytes of DATA `stream` may send now.
    pub fn send_capacity(&self, stream: u32) -> usize {
        match self.find(stream) {
            Some(i) if self.state != State::Closed => {
                self.streams[i].send_window.min(self.send_window).max(0) as usize
            }
            _ => 0,
        }
    }

    /// Sends as much of `data` as the windows allow, in frames of the
    /// peer's size; with `end_stream`, the last frame ends the stream if
    /// all of `data` went. Returns the bytes sent (0 if the stream is gone).
    pub fn send_data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> usize {
        let Some(i) = self.find(stream).filter(|_| self.state != State::Closed) else { return 0 };
        if !self.streams[i].send_started || self.streams[i].send_done {
            return 0;
        }
        let n = data.len().min(self.send_capacity(stream));
        let max = self.peer_max_frame as usize;
        let mut sent = 0;
        while sent < n {
            let piece = (n - sent).min(max);
            let last = sent + piece == data.len() && end_stream;
            frame::encode_data(&mut self.out, stream, &data[sent..sent + piece], last);
            sent += piece;
            self.budget.earn(1);
        }
        self.send_window -= n as i64;
        self.streams[i].send_window -= n as i64;
        if n == data.len() && end_stream {
            if data.is_empty() {
                frame::encode_data(&mut self.out, stream, &[], true);
            }
            self.end_of_output(i);
        }
        n
    }

    /// The response is complete: the stream closes, or (if the request is
    /// still arriving) is asked to stop with RST_STREAM(NO_ERROR), §8.1.
    pub(super) fn end_of_output(&mut self, i: usize) {
        self.budget.earn(1);
        let s = &mut self.streams[i];
        s.send_done = true;
        if s.recv_open {
            let id = s.id;
            frame::encode_rst_stream(&mut self.out, id, ErrorCode::NoError);
            self.note_closed(id, true);
        }
        self.remove(i);
    }

    /// Abandons `stream` (e.g. its handler failed mid-body): RST_STREAM.
    pub fn reset(&mut self, stream: u32, code: ErrorCode) {
        if self.state != State::Closed && self.find(stream).is_some() {
            let _ = self.reset_stream(stream, code);
        }
    }

    /// Graceful shutdown, phase one (§6.8): GOAWAY with the largest stream
    /// id (streams in flight still open) and a PING; when its ACK returns,
    /// phase two names the last stream really accepted.
    pub fn shutdown(&mut self) {
        if self.state == State::Closed || self.shutdown != Shutdown::None {
            return;
        }
        frame::encode_goaway(&mut self.out, MAX_WINDOW, ErrorCode::NoError, b"");
        frame::encode_ping(&mut self.out, false, SHUTDOWN_PING);
        self.shutdown = Shutdown::Announced;
    }

    /// Phase two at once (the peer did not answer the PING in time).
    pub fn final_goaway(&mut self) {
        if self.state == State::Closed || matches!(self.shutdown, Shutdown::Final(_)) {
            return;
        }
        frame::encode_goaway(&mut self.out, self.last_peer_stream, ErrorCode::NoError, b"");
        self.shutdown = Shutdown::Final(self.last_peer_stream);
    }

    /// Ends the connection at once with GOAWAY(`code`).
    pub fn abort(&mut self, code: ErrorCode) {
        let _ = self.fail(conn_err(code));
    }
}
