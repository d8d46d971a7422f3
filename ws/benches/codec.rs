//! WebSocket codec micro-benchmarks.
//!
//! - masking: the u64 fast path against the byte-by-byte RFC definition;
//! - decoding: a 32-byte and a 16 KiB masked frame through `WsConn::feed`
//!   (head decode + in-place unmask + UTF-8/binary delivery);
//! - encoding: a frame head on the stack, and a whole frame into a buffer;
//! - permessage-deflate: compressing a 16 KiB text message.
//!
//! Run: `cargo bench -p weir-ws --bench codec`

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use weir_ws::frame::{encode_frame, encode_frame_masked, OpCode};
use weir_ws::mask::{apply_mask, apply_mask_reference};
use weir_ws::{encode_frame_header, Deflater, Limits, WsConn};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn masking(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask");
    for len in [32usize, 1024, 16 * 1024] {
        let mut buf = vec![0x5au8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("fast_u64", len), &len, |b, _| {
            b.iter(|| apply_mask(black_box(&mut buf), KEY, 1));
        });
        g.bench_with_input(BenchmarkId::new("reference_bytewise", len), &len, |b, _| {
            b.iter(|| apply_mask_reference(black_box(&mut buf), KEY, 1));
        });
    }
    g.finish();
}

fn decoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, op, len) in [
        ("text_32B", OpCode::Text, 32usize),
        ("binary_16KiB", OpCode::Binary, 16 * 1024),
        ("text_16KiB", OpCode::Text, 16 * 1024),
    ] {
        let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let mut wire = Vec::new();
        encode_frame_masked(true, op, false, &payload, KEY, &mut wire);
        let mut conn = WsConn::new(Limits::default(), None);
        let mut buf = wire.clone();
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                // Re-copy the masked frame: feeding unmasks in place.
                buf.copy_from_slice(&wire);
                let mut seen = 0usize;
                let n = conn.feed(&mut buf, |_, _| seen += 1).unwrap();
                black_box((n, seen))
            });
        });
    }
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(14));
    g.bench_function("header_only", |b| {
        b.iter(|| black_box(encode_frame_header(true, OpCode::Binary, false, black_box(16 * 1024))));
    });
    for len in [32usize, 16 * 1024] {
        let payload = vec![b'x'; len];
        let mut out = Vec::with_capacity(len + 16);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("whole_frame", len), &len, |b, _| {
            b.iter(|| {
                out.clear();
                encode_frame(true, OpCode::Binary, false, black_box(&payload), &mut out);
                black_box(out.len())
            });
        });
    }
    let text: Vec<u8> =
        "the quick brown fox jumps over the lazy dog; ".bytes().cycle().take(16 * 1024).collect();
    let mut d = Deflater::new(6, 15);
    let mut out = Vec::with_capacity(16 * 1024);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("deflate_16KiB_text_level6", |b| {
        b.iter(|| {
            out.clear();
            d.compress(black_box(&text), &mut out).unwrap();
            d.reset();
            black_box(out.len())
        });
    });
    g.finish();
}

criterion_group!(benches, masking, decoding, encoding);
criterion_main!(benches);
