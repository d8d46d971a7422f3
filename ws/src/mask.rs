//! Payload masking (RFC 6455 §5.3), eight bytes at a time.
//!
//! Every frame a client sends is masked with a 4-byte key chosen per frame:
//!
//! > Octet i of the transformed data ("transformed-octet-i") is the XOR of
//! > octet i of the original data ("original-octet-i") with octet at index
//! > i modulo 4 of the masking key ("masking-key-octet-j"):
//! >
//! > `j = i MOD 4`
//! > `transformed-octet-i = original-octet-i XOR masking-key-octet-j`
//!
//! Masking and unmasking are the same operation. A server unmasks every byte
//! it receives, so this loop is on the hot path of every read.
//!
//! # The fast path
//!
//! The key repeats every 4 bytes, so eight consecutive payload bytes are
//! always XORed with the same 8-byte pattern `k0 k1 k2 k3 k0 k1 k2 k3` once
//! the key is rotated to the payload position we start at. We XOR a `u64` at
//! a time (`from_ne_bytes`/`to_ne_bytes` compile to plain loads and stores; the
//! byte order does not matter for XOR as long as the pattern is built the same
//! way). No `unsafe`, no alignment assumptions: the compiler vectorises the
//! `chunks_exact_mut(8)` loop on its own.
//!
//! A payload may arrive split across reads; the caller keeps going by passing
//! the key rotated by the number of bytes already unmasked ([`rotate_key`]).
//!
//! [`apply_mask_reference`] is the byte-by-byte definition above; tests check
//! the fast path against it for every start offset, length and key rotation.

/// XORs `buf` with `key`, as if `buf` started at payload offset `offset`.
///
/// `offset` only matters modulo 4: pass the number of payload bytes already
/// unmasked (or rotate the key with [`rotate_key`] and pass 0).
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    // `k k` as a u64: the same two 4-byte copies of the key in memory order
    // on either endianness.
    let k32 = u64::from(u32::from_ne_bytes(key));
    let pattern = (k32 << 32) | k32;
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("chunk of 8")) ^ pattern;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // The tail (0..=7 bytes) starts at a multiple of 8 from `buf[0]`, hence at key index 0.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// The key to use for the bytes that follow `n` already-unmasked bytes.
#[inline]
pub fn rotate_key(key: [u8; 4], n: usize) -> [u8; 4] {
    let r = n & 3;
    [key[r], key[(r + 1) & 3], key[(r + 2) & 3], key[(r + 3) & 3]]
}

/// The definition from RFC 6455 §5.3, one byte at a time. Used by tests and
/// benchmarks as the reference for [`apply_mask`].
pub fn apply_mask_reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_matches_reference_at_every_offset_length_and_rotation() {
        let data: Vec<u8> = (0..232u32).map(|i| (i * 31 + 7) as u8).collect();
        let keys = [[0x37, 0xfa, 0x21, 0x3d], [0, 0, 0, 0], [0xff, 0xff, 0xff, 0xff], [1, 2, 3, 4]];
        for key in keys {
            for start in 0..16 {
                for len in 0..200 {
                    for offset in 0..4 {
                        let mut fast = data.clone();
                        let mut slow = data.clone();
                        apply_mask(&mut fast[start..start + len], key, offset);
                        apply_mask_reference(&mut slow[start..start + len], key, offset);
                        assert_eq!(fast, slow, "key {key:?} start {start} len {len} off {offset}");
                    }
                }
            }
        }
    }

    #[test]
    fn split_unmasking_equals_whole() {
        let key = [9, 8, 7, 6];
        let data: Vec<u8> = (0..=255u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in 0..data.len() {
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, rotate_key(key, split), 0);
            assert_eq!(parts, whole, "split {split}");
        }
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 6455 §5.7: a masked "Hello" with key 37 fa 21 3d.
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }
}
