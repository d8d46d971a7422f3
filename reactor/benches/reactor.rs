//! Micro-benchmarks of the reactor's hot data structures: the timer wheel,
//! the write queue and the token slab.
//!
//! Run: `cargo bench -p weir-reactor --bench reactor -- --warm-up-time 1 --measurement-time 3`
//! (or `benches/micro.sh` for every crate's benches at once).
//!
//! * `timer/schedule_advance`: 10,000 deadlines spread over one turn of the
//!   wheel, then one `advance` across the turn that fires them all.
//! * `timer/lazy_rearm`: the server's pattern. 10,000 connections each get
//!   a request per tick that pushes their idle deadline later: a field write,
//!   no wheel operation. Entries that come due find the deadline moved and
//!   are re-inserted once. Per element: one request's deadline update plus
//!   its share of wheel work.
//! * `write_queue/flush`: N response-sized chunks (a 100-byte head copied
//!   into a pooled buffer + a 13-byte static body, as a pipelined batch of
//!   plaintext responses) gathered into one `writev` to `/dev/null`: the
//!   cost of the queue's bookkeeping plus one syscall, per byte.
//! * `slab/insert_remove`: a connection's token life: insert, look up, remove.

use std::fs::File;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use weir_reactor::buf::BufPool;
use weir_reactor::sys::io_ops::IoVecs;
use weir_reactor::timer::{Entry, TimerWheel};
use weir_reactor::token::{Slab, Token};
use weir_reactor::write_queue::{Chunk, WriteQueue};

const CONNS: u32 = 10_000;

fn timer(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer");
    g.throughput(Throughput::Elements(u64::from(CONNS)));
    g.bench_function("schedule_advance", |b| {
        let mut wheel = TimerWheel::new(10, 512);
        let mut fired = Vec::with_capacity(CONNS as usize);
        let mut now = 0u64;
        b.iter(|| {
            for i in 0..CONNS {
                // Spread over one turn (5.12 s of 10 ms ticks).
                wheel.schedule(Token::from_u64(u64::from(i)), now + 10 + u64::from(i) % 5_000);
            }
            now += 5_120;
            fired.clear();
            wheel.advance(now, &mut fired);
            black_box(fired.len())
        });
    });

    g.bench_function("lazy_rearm", |b| {
        const IDLE_MS: u64 = 5_000;
        let mut wheel = TimerWheel::new(10, 512);
        // Each connection: (its deadline, the tick its wheel entry is armed at).
        let mut conns: Vec<(u64, u64)> =
            (0..CONNS).map(|i| (IDLE_MS, wheel.schedule(Token::from_u64(u64::from(i)), IDLE_MS))).collect();
        let mut fired: Vec<Entry> = Vec::new();
        let mut now = 0u64;
        b.iter(|| {
            now += 10;
            // A request on every connection: move its deadline later, touch nothing else.
            for conn in conns.iter_mut() {
                conn.0 = now + IDLE_MS;
            }
            fired.clear();
            wheel.advance(now, &mut fired);
            for e in &fired {
                let conn = &mut conns[e.token.as_u64() as usize];
                if conn.1 == e.due_tick {
                    // The deadline moved: re-arm once, for the new deadline.
                    conn.1 = wheel.schedule(e.token, conn.0);
                }
            }
            black_box(fired.len())
        });
    });
    g.finish();
}

fn write_queue(c: &mut Criterion) {
    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: weir\r\nDate: Sat, 22 Nov 2025 10:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n";
    const BODY: &[u8] = b"Hello, World!";
    let devnull = File::options().write(true).open("/dev/null").expect("/dev/null opens");
    let mut g = c.benchmark_group("write_queue");
    for responses in [1usize, 16, 256] {
        g.throughput(Throughput::Bytes(((HEAD.len() + BODY.len()) * responses) as u64));
        g.bench_with_input(BenchmarkId::new("flush", responses), &responses, |b, &n| {
            // The shard's own pool: 4 KiB buffers, up to 1024 kept (ShardConfig defaults).
            let mut pool = BufPool::new(4 * 1024, 1024);
            let mut iov = IoVecs::new();
            let mut q = WriteQueue::new();
            b.iter(|| {
                for _ in 0..n {
                    q.push_copy(HEAD, &mut pool);
                    q.push(Chunk::Static(BODY));
                }
                black_box(q.flush(&devnull, &mut iov, &mut pool).expect("writev to /dev/null"))
            });
        });
    }
    g.finish();
}

fn slab(c: &mut Criterion) {
    let mut g = c.benchmark_group("slab");
    g.throughput(Throughput::Elements(1));
    g.bench_function("insert_remove", |b| {
        let mut slab: Slab<[u64; 8]> = Slab::new();
        // A half-full slab, so the free list is exercised as in a live shard.
        let keep: Vec<Token> = (0..1024).map(|i| slab.insert([i; 8])).collect();
        b.iter(|| {
            let t = slab.insert([7; 8]);
            black_box(slab.get(t));
            slab.remove(t)
        });
        black_box(keep.len());
    });
    g.finish();
}

criterion_group!(benches, timer, write_queue, slab);
criterion_main!(benches);
