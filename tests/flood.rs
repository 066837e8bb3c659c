//! Hostile traffic: a UDP flood at more than the server can answer. In its own
//! test binary so the flood never starves other tests' timeouts (test binaries
//! run one after another; tests inside one run in parallel).

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use support::{dig, rss_kib, DevNode};

#[test]
fn flood_keeps_answering_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let node =
        DevNode::start_args(dir.path(), &support::repo_zones(), &["--upstream", "none", "--cache-size", "4000000"]);
    let rss_before = rss_kib(node.pid());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    let addr = node.dns;
    let senders: Vec<_> = (0..2u64)
        .map(|t| {
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.set_nonblocking(true).unwrap();
                let mut buf = [0u8; 2048];
                let (mut sent, mut received) = (0u64, 0u64);
                let mut x = 0x9E3779B97F4A7C15u64 ^ t;
                for i in 0..10_000u64 {
                    if Instant::now() > deadline {
                        break;
                    }
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let bytes = match i % 10 {
                        0 => x.to_le_bytes().repeat((x % 8) as usize + 1), // junk
                        1 | 2 => msg(i as u16, "werner.id.", RecordType::A),
                        _ => msg(i as u16, &format!("r{x:x}.id."), RecordType::A),
                    };
                    if sock.send_to(&bytes, addr).is_ok() {
                        sent += 1;
                    }
                    while sock.recv(&mut buf).is_ok() {
                        received += 1;
                    }
                }
                let end = Instant::now() + Duration::from_millis(500);
                while Instant::now() < end {
                    match sock.recv(&mut buf) {
                        Ok(_) => received += 1,
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                (sent, received)
            })
        })
        .collect();
    let (mut sent, mut received) = (0, 0);
    for s in senders {
        let (a, b) = s.join().unwrap();
        sent += a;
        received += b;
    }
    let secs = started.elapsed().as_secs_f64();
    let rss_after = rss_kib(node.pid());
    eprintln!(
        "flood: {sent} sent, {received} answered in {secs:.1}s ({:.0} q/s); RSS {rss_before} KiB -> {rss_after} KiB",
        sent as f64 / secs
    );
    assert!(sent >= 10_000, "{sent}");
    assert!(rss_after < 256 * 1024, "RSS {rss_after} KiB");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short", "+tcp"]).trim(), "192.0.2.10");
}

fn msg(id: u16, name: &str, t: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    m.to_vec().unwrap()
}
