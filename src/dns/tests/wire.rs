//! Wire-level tests: truncation, protocol errors, junk input, `dig`, binding.

use std::{net::SocketAddr, time::Duration};

use hickory_proto::{
    op::{Edns, Message, MessageType, OpCode, Query, ResponseCode},
    rr::{DNSClass, Name, RData, RecordType},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
    time::timeout,
};

use super::{ask, ask_opts, assert_ok, source, start, Proto, BOTH};
use crate::dns::DnsServer;

#[tokio::test]
async fn large_answers() {
    let srv = start().await;
    // ~800 bytes of TXT: without EDNS, UDP truncates.
    let r = ask_opts(srv.addr, Proto::Udp, "big.werner.id.", RecordType::TXT, false).await;
    assert!(r.metadata.truncation, "{r:?}");
    assert!(r.edns.is_none());
    // With EDNS (client advertises 1232) it fits.
    let r = ask(srv.addr, Proto::Udp, "big.werner.id.", RecordType::TXT).await;
    assert_ok(&r);
    assert!(r.edns.is_some());
    match &r.answers[0].data {
        RData::TXT(t) => assert_eq!(t.txt_data.len(), 4),
        other => panic!("{other:?}"),
    }
    // ~3 KB: truncated even with EDNS over UDP, whole over TCP.
    let r = ask(srv.addr, Proto::Udp, "huge.werner.id.", RecordType::TXT).await;
    assert!(r.metadata.truncation, "{r:?}");
    for edns in [true, false] {
        let r = ask_opts(srv.addr, Proto::Tcp, "huge.werner.id.", RecordType::TXT, edns).await;
        assert_ok(&r);
        match &r.answers[0].data {
            RData::TXT(t) => {
                assert_eq!(t.txt_data.len(), 12);
                assert!(t.txt_data.iter().all(|s| s.len() == 255));
            }
            other => panic!("{other:?}"),
        }
    }
    srv.stop().await;
}

/// Sends `msg` over UDP and returns the parsed response, if any arrives.
pub(super) async fn raw_udp(addr: SocketAddr, bytes: &[u8]) -> Option<Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.send_to(bytes, addr).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let n = timeout(Duration::from_millis(500), sock.recv(&mut buf)).await.ok()?.ok()?;
    Message::from_vec(&buf[..n]).ok()
}

pub(super) fn query_msg(id: u16, names: &[&str]) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    for n in names {
        m.add_query(Query::query(Name::from_ascii(n).expect("n"), RecordType::A));
    }
    m
}

#[tokio::test]
async fn protocol_errors() {
    let srv = start().await;
    let two = query_msg(7, &["werner.id.", "alice.id."]);
    let r = raw_udp(srv.addr, &two.to_vec().expect("enc")).await.expect("reply");
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(r.metadata.id, 7);

    let none = query_msg(8, &[]);
    let r = raw_udp(srv.addr, &none.to_vec().expect("enc")).await.expect("reply");
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);

    let mut status = query_msg(9, &["werner.id."]);
    status.metadata.op_code = OpCode::Status;
    let r = raw_udp(srv.addr, &status.to_vec().expect("enc")).await.expect("reply");
    assert_eq!(r.metadata.response_code, ResponseCode::NotImp);

    let mut badvers = query_msg(10, &["werner.id."]);
    let mut edns = Edns::new();
    edns.set_version(1);
    badvers.set_edns(edns);
    let r = raw_udp(srv.addr, &badvers.to_vec().expect("enc")).await.expect("reply");
    // BADVERS and BADSIG share code 16; hickory decodes 16 as BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert!(r.edns.is_some());

    let mut chaos = query_msg(11, &[]);
    let mut q = Query::query(Name::from_ascii("version.bind.").expect("n"), RecordType::TXT);
    q.set_query_class(DNSClass::CH);
    chaos.add_query(q);
    let r = raw_udp(srv.addr, &chaos.to_vec().expect("enc")).await.expect("reply");
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);

    let axfr = {
        let mut m = query_msg(12, &[]);
        m.add_query(Query::query(Name::from_ascii("id.").expect("n"), RecordType::AXFR));
        m
    };
    let r = raw_udp(srv.addr, &axfr.to_vec().expect("enc")).await.expect("reply");
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    srv.stop().await;
}

/// Deterministic pseudo-random bytes (xorshift), no extra dependency.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn junk_does_not_crash() {
    let srv = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    for i in 0..300u64 {
        let len = (i as usize * 7) % 600;
        let mut bytes = junk(i + 1, len);
        if i % 3 == 0 && bytes.len() > 12 {
            // Plausible header, garbage body: exercises the decoders.
            bytes[2] = 0x01;
            bytes[4..6].copy_from_slice(&[0, 1]);
        }
        sock.send_to(&bytes, srv.addr).await.expect("send");
    }
    // Truncated names, compression loops, huge counts.
    let nasty: [&[u8]; 4] = [
        &[0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1],
        &[0, 2, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &[0, 3, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, b'a'],
        &[0, 4],
    ];
    for bytes in nasty {
        sock.send_to(bytes, srv.addr).await.expect("send");
    }

    // TCP: garbage with and without a sane length prefix, then close.
    for i in 0..20u64 {
        let mut stream = TcpStream::connect(srv.addr).await.expect("connect");
        let body = junk(1000 + i, 64 + i as usize * 13);
        if i % 2 == 0 {
            let len = body.len() as u16;
            stream.write_all(&len.to_be_bytes()).await.expect("write");
        }
        stream.write_all(&body).await.expect("write");
        let _ = stream.shutdown().await;
        let mut sink = Vec::new();
        let _ = timeout(Duration::from_millis(200), stream.read_to_end(&mut sink)).await;
    }
    // A connection that announces 65535 bytes and sends 3.
    let mut stream = TcpStream::connect(srv.addr).await.expect("connect");
    stream.write_all(&[0xff, 0xff, 1, 2, 3]).await.expect("write");
    drop(stream);

    for p in BOTH {
        let r = ask(srv.addr, p, "werner.id.", RecordType::TXT).await;
        assert_ok(&r);
    }
    srv.stop().await;
}

#[tokio::test]
async fn dig_short_txt() {
    let srv = start().await;
    let port = srv.addr.port().to_string();
    let run = |extra: &'static str| {
        let port = port.clone();
        async move {
            let out = tokio::process::Command::new("dig")
                .args(["@127.0.0.1", "-p", &port, "werner.id", "TXT", "+short"])
                .args(["+time=3", "+tries=1", extra])
                .output()
                .await
                .expect("dig must be installed (scripts/test installs dnsutils)");
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    assert_eq!(run("+notcp").await, "\"hello\" \"world\"");
    assert_eq!(run("+tcp").await, "\"hello\" \"world\"");
    srv.stop().await;
}

#[tokio::test]
async fn bind_fixed_port_and_shutdown() {
    let first = start().await;
    let addr = first.addr;
    // The port is taken (UDP and TCP): binding it again must fail.
    let again = DnsServer::bind(addr, source().cell()).await;
    assert!(again.is_err());
    first.stop().await;
    // After shutdown the port is free again.
    // Retry briefly: a subprocess forked by a parallel test (`dig`) holds copies
    // of every fd until it execs (they are close-on-exec), so the port can stay
    // busy for a moment after our sockets are closed.
    let mut tries = 0;
    let server = loop {
        match DnsServer::bind(addr, source().cell()).await {
            Ok(server) => break server,
            Err(e) if tries < 40 => {
                tries += 1;
                eprintln!("rebind {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("rebind {addr}: {e:?}"),
        }
    };
    assert_eq!(server.local_addr(), addr);
}
