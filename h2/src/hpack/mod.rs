//! HPACK (RFC 7541): header compression for HTTP/2.
//!
//! ```text
//!  header block ──▶ Decoder::decode ──▶ HeaderList (one buffer, spans)
//!                     │  indexed (§6.1) / literal ± indexing (§6.2)
//!                     │  size update (§6.3), only at the block's start
//!                     └─ bounded: list size with 32 bytes per field, field count
//!  (name, value)* ──▶ Encoder::encode ──▶ header block
//!                     stateless (static table only, like nginx) or indexing
//! ```
//!
//! **Bounds.** The decoder's output is counted as RFC 9113 §6.5.2 counts
//! SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32 per field) and in
//! fields; past either bound it keeps decoding (the dynamic table must
//! stay in step with the peer's encoder) but stores nothing more, and
//! reports [`HpackError::ListTooLarge`] or [`HpackError::TooManyFields`] at
//! the end of the block. So a small indexed reference to a large entry
//! (an "HPACK bomb") costs a counter increment once over the bound, never a
//! copy. Integers are limited to what fits in `u32` with at most five
//! continuation bytes; strings to the block they arrive in.
//!
//! Every other malformation is a [`HpackError::Compression`], which ends
//! the connection with COMPRESSION_ERROR (RFC 9113 §4.3).

mod huffman;
mod table;

use self::table::{find_static, DynamicTable, ENTRY_OVERHEAD, STATIC};

/// The initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Why a header block was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// Malformed block: a connection error of type COMPRESSION_ERROR.
    Compression,
    /// The decoded list is larger than the limit (the block was decoded to
    /// its end, the table is in step; the list is incomplete).
    ListTooLarge,
    /// More fields than the limit (as for `ListTooLarge`).
    TooManyFields,
}

impl std::fmt::Display for HpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HpackError::Compression => "malformed header block",
            HpackError::ListTooLarge => "header list too large",
            HpackError::TooManyFields => "too many header fields",
        })
    }
}

impl std::error::Error for HpackError {}

/// Bounds on a decoded header list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest list: the sum of name + value + 32 over its fields.
    pub max_list_size: usize,
    /// Most fields.
    pub max_fields: usize,
}

/// A decoded header list: every name and value in one buffer.
#[derive(Debug, Default, Clone)]
pub struct HeaderList {
    buf: Vec<u8>,
    /// `[name start, value start (= name end), value end]`.
    fields: Vec<[u32; 3]>,
    size: usize,
}

impl HeaderList {
    /// An empty list.
    pub fn new() -> HeaderList {
        HeaderList::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True without fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The list size as RFC 9113 §6.5.2 counts it.
    pub fn list_size(&self) -> usize {
        self.size
    }

    /// Field `i` as `(name, value)`.
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let [a, b, c] = *self.fields.get(i)?;
        Some((&self.buf[a as usize..b as usize], &self.buf[b as usize..c as usize]))
    }

    /// Every field in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Empties the list, keeping its memory.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.fields.clear();
        self.size = 0;
    }
}

// ----------------------------------------------------- primitives (§5)

/// Decodes an integer with an `n`-bit prefix (§5.1) at `b[*pos]`.
fn decode_int(b: &[u8], pos: &mut usize, n: u8) -> Result<usize, HpackError> {
    let max_prefix = (1u32 << n) - 1;
    let first = *b.get(*pos).ok_or(HpackError::Compression)?;
    *pos += 1;
    let mut value = u32::from(first) & max_prefix;
    if value < max_prefix {
        return Ok(value as usize);
    }
    let mut shift = 0u32;
    loop {
        let byte = *b.get(*pos).ok_or(HpackError::Compression)?;
        *pos += 1;
        // Five continuation bytes carry 35 bits: more than any valid value
        // here (u32), so a sixth is an error, as is an overflow.
        if shift > 28 {
            return Err(HpackError::Compression);
        }
        let add = u32::from(byte & 0x7f).checked_shl(shift).filter(|v| v >> shift == u32::from(byte & 0x7f));
        value = add.and_then(|a| value.checked_add(a)).ok_or(HpackError::Compression)?;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(value as usize);
        }
    }
}

/// Appends an integer with an `n`-bit prefix, `flags` in the first byte's high bits.
fn encode_int(out: &mut Vec<u8>, value: usize, n: u8, flags: u8) {
    let max_prefix = (1usize << n) - 1;
    if value < max_prefix {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 128 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Decodes a string literal (§5.2) at `b[*pos]`, appending it to `out`.
fn decode_string(b: &[u8], pos: &mut usize, out: &mut Vec<u8>) -> Result<(), HpackError> {
    let huff = b.get(*pos).ok_or(HpackError::Compression)? & 0x80 != 0;
    let len = decode_int(b, pos, 7)?;
    let end = pos.checked_add(len).filter(|&e| e <= b.len()).ok_or(HpackError::Compression)?;
    let raw = &b[*pos..end];
    *pos = end;
    if huff {
        huffman::decode(raw, |c| out.push(c)).map_err(|_| HpackError::Compression)
    } else {
        out.extend_from_slice(raw);
        Ok(())
    }
}

/// Appends a string literal, Huffman-coded when that is shorter.
fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    let h = huffman::encoded_len(s);
    if h < s.len() {
        encode_int(out, h, 7, 0x80);
        huffman::encode(s, out);
    } else {
        encode_int(out, s.len(), 7, 0);
        out.extend_from_slice(s);
    }
}

// ------------------------------------------------------------ decoder

/// An HPACK decoder: one per connection, fed every header block in order.
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The SETTINGS_HEADER_TABLE_SIZE we announced: a size update above it
    /// is an error (§6.3).
    limit: usize,
}

impl Decoder {
    /// A decoder whose table may grow to `max_table_size` (the value we
    /// announce as SETTINGS_HEADER_TABLE_SIZE).
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder { table: DynamicTable::new(max_table_size), limit: max_table_size }
    }

    /// The dynamic table's current size (RFC 7541 §4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    fn field(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        match index {
            0 => Err(HpackError::Compression),
            1..=61 => Ok(STATIC[index - 1]),
            _ => self.table.get(index - 62).ok_or(HpackError::Compression),
        }
    }

    /// Decodes a complete header block into `out` (cleared first).
    ///
    /// # Errors
    ///
    /// [`HpackError::Compression`] for a malformed block (the connection
    /// cannot go on); [`HpackError::ListTooLarge`] or
    /// [`HpackError::TooManyFields`] when `limits` were passed (the block
    /// was still decoded to its end, so the connection can go on).
    pub fn decode(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
        out: &mut HeaderList,
    ) -> Result<(), HpackError> {
        out.clear();
        let mut pos = 0;
        let mut fields_seen = false;
        let mut over: Option<HpackError> = None;
        while pos < block.len() {
            let b = block[pos];
            let start = out.buf.len();
            let (indexing, name_end) = if b & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                let index = decode_int(block, &mut pos, 7)?;
                let (n, v) = self.field(index)?;
                fields_seen = true;
                let size = n.len() + v.len() + ENTRY_OVERHEAD;
                if over.is_none() {
                    over = check(out, size, limits);
                    if over.is_none() {
                        out.buf.extend_from_slice(n);
                        out.buf.extend_from_slice(v);
                        push(out, start, start + n.len(), size);
                    }
                }
                continue;
            } else if b & 0xe0 == 0x20 {
                // §6.3 Dynamic Table Size Update: "MUST occur at the
                // beginning of the first header block following the change".
                if fields_seen {
                    return Err(HpackError::Compression);
                }
                let size = decode_int(block, &mut pos, 5)?;
                if size > self.limit {
                    return Err(HpackError::Compression);
                }
                self.table.set_max_size(size);
                continue;
            } else {
                // §6.2 Literal Header Field: with incremental indexing
                // (01), without indexing (0000), never indexed (0001).
                let indexing = b & 0x40 != 0;
                let index = decode_int(block, &mut pos, if indexing { 6 } else { 4 })?;
                fields_seen = true;
                if index == 0 {
                    decode_string(block, &mut pos, &mut out.buf)?;
                } else {
                    let (n, _) = self.field(index)?;
                    out.buf.extend_from_slice(n);
                }
                let name_end = out.buf.len();
                decode_string(block, &mut pos, &mut out.buf)?;
                (indexing, name_end)
            };
            if indexing {
                let (n, v) = out.buf[start..].split_at(name_end - start);
                self.table.insert(n, v);
            }
            let size = out.buf.len() - start + ENTRY_OVERHEAD;
            if over.is_none() {
                over = check(out, size, limits);
            }
            if over.is_some() {
                out.buf.truncate(start);
            } else {
                push(out, start, name_end, size);
            }
        }
        match over {
            None => Ok(()),
            Some(e) => {
                out.clear();
                Err(e)
            }
        }
    }
}

fn check(out: &HeaderList, size: usize, limits: DecodeLimits) -> Option<HpackError> {
    if out.fields.len() >= limits.max_fields {
        Some(HpackError::TooManyFields)
    } else if out.size + size > limits.max_list_size {
        Some(HpackError::ListTooLarge)
    } else {
        None
    }
}

fn push(out: &mut HeaderList, start: usize, name_end: usize, size: usize) {
    // Offsets fit in u32: a list is bounded by `max_list_size`, far below 4 GiB.
    let end = out.buf.len();
    out.fields.push([start as u32, name_end as u32, end as u32]);
    out.size += size;
}

// ------------------------------------------------------------ encoder

/// How the encoder uses the dynamic table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexMode {
    /// Never: the static table and literals only. No per-connection table
    /// memory, no eviction work; responses repeat their literal fields.
    Stateless,
    /// Fields that repeat across responses (`content-type`, `server`, ...)
    /// are added to the dynamic table once and then sent as one byte.
    Indexing,
}

/// Names never added to the dynamic table: secrets (RFC 7541 §7.1.3)
/// and values that change with every response.
fn never_index(name: &[u8]) -> bool {
    matches!(
        name,
        b"set-cookie" | b"authorization" | b"cookie" | b"content-length" | b"etag" | b"last-modified"
    )
}

/// An HPACK encoder: one per connection.
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    mode: IndexMode,
    /// A table size change to announce at the start of the next block.
    pending_update: Option<usize>,
}

impl Encoder {
    /// An encoder (the peer's table size starts at 4096).
    pub fn new(mode: IndexMode) -> Encoder {
        let size = if mode == IndexMode::Indexing { DEFAULT_TABLE_SIZE } else { 0 };
        Encoder { table: DynamicTable::new(size), mode, pending_update: None }
    }

    /// The peer announced SETTINGS_HEADER_TABLE_SIZE = `max`: the table
    /// shrinks to it if needed, and the change is signalled (§4.2).
    pub fn set_peer_max(&mut self, max: usize) {
        if self.mode == IndexMode::Stateless {
            return;
        }
        let size = max.min(DEFAULT_TABLE_SIZE);
        if size != self.table.max_size() {
            self.table.set_max_size(size);
            self.pending_update = Some(self.pending_update.map_or(size, |p| p.min(size)));
        }
    }

    /// Starts a header block: the pending size update, if any.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        if let Some(size) = self.pending_update.take() {
            encode_int(out, size, 5, 0x20);
        }
    }

    /// Appends one field (`name` lowercase).
    pub fn encode_field(&mut self, name: &[u8], value: &[u8], out: &mut Vec<u8>) {
        let (s_full, s_name) = find_static(name, value);
        if let Some(i) = s_full {
            return encode_int(out, i, 7, 0x80);
        }
        let indexing = self.mode == IndexMode::Indexing;
        let (d_full, d_name) = if indexing { self.table.find(name, value) } else { (None, None) };
        if let Some(i) = d_full {
            return encode_int(out, 62 + i, 7, 0x80);
        }
        let name_index = s_name.or(d_name.map(|i| 62 + i));
        let sensitive = matches!(name, b"set-cookie" | b"authorization");
        let add = indexing
            && !never_index(name)
            && name.len() + value.len() + ENTRY_OVERHEAD <= self.table.max_size() / 2;
        let (prefix, flags) = if add {
            (6, 0x40)
        } else if sensitive {
            (4, 0x10)
        } else {
            (4, 0x00)
        };
        encode_int(out, name_index.unwrap_or(0), prefix, flags);
        if name_index.is_none() {
            encode_string(out, name);
        }
        encode_string(out, value);
        if add {
            self.table.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests;
