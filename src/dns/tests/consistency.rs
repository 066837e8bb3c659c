//! The snapshot's guarantees, over a running server: lag counts only beyond
//! `confirmations`; a reorg while queries run never mixes two heights.

use std::net::Ipv4Addr;
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use std::time::Duration;

use hickory_proto::{
    op::ResponseCode,
    rr::{RData, RecordType},
};

use super::super::snapshot::{ApexConfig, ImageMeta, NameState, Snapshot, SnapshotCell};
use super::super::DnsServer;
use super::super::{ede::Ede, excess_lag};
use super::{ask, rec, zone, Lookup, Proto};
use crate::zonefile::RecordData;

/// A view at `height` where `n.id` has TXT `h=<height>` (and `only<height>.id` exists).
fn at(height: u64, lag: Option<u64>) -> Snapshot {
    let Lookup::Zone(z) = zone(vec![rec("n.id", 60, RecordData::Txt(vec![format!("h={height}").into_bytes()]))]) else {
        unreachable!()
    };
    let names = [
        ("n.id".to_string(), NameState::Zone(z.clone()), None),
        (format!("only{height}.id"), NameState::Zone(z), None),
    ];
    let meta = ImageMeta { height, serial: height as u32, ..ImageMeta::default() };
    Snapshot::build(
        meta,
        &["id"],
        names,
        &ApexConfig { ns_name: None, ns_addrs: vec![Ipv4Addr::LOCALHOST.into()], dnskey: None },
    )
    .with_lag(lag)
}

async fn serve(cell: Arc<SnapshotCell>) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap(), cell).await.unwrap();
    let addr = server.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

#[test]
fn mainnet_confirmations_are_not_lag() {
    // 10 confirmations keep the index 9 blocks behind the tip by design.
    assert_eq!(excess_lag(900_009, 900_000, 10), None);
    assert_eq!(excess_lag(900_011, 900_000, 10), None);
    assert_eq!(excess_lag(900_012, 900_000, 10), Some(3));
    assert_eq!(excess_lag(900_002, 900_000, 1), None);
    assert_eq!(excess_lag(900_003, 900_000, 1), Some(3));
    assert_eq!(excess_lag(5, 900_000, 10), None);
}

#[tokio::test]
async fn nxdomain_stays_nxdomain_at_mainnet_depth_and_servfail_beyond() {
    let cell = Arc::new(SnapshotCell::new(at(900_000, excess_lag(900_009, 900_000, 10))));
    let (addr, stop) = serve(cell.clone()).await;
    for p in [Proto::Udp, Proto::Tcp] {
        let r = ask(addr, p, "nobody.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r:?}");
    }
    cell.publish(at(900_000, excess_lag(900_015, 900_000, 10)));
    for p in [Proto::Udp, Proto::Tcp] {
        let r = ask(addr, p, "nobody.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r:?}");
        let r = ask(addr, p, "n.id.", RecordType::TXT).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        let text = ede_text(&r).expect("lag EDE");
        assert!(text.contains("index at block 900000 is 6 blocks behind"), "{text}");
    }
    let _ = stop.send(());
}

fn ede_text(r: &hickory_proto::op::DnsResponse) -> Option<String> {
    r.edns.as_ref().and_then(|e| e.option(Ede::edns_code())).and_then(Ede::from_option).map(|e| e.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_while_queries_run_never_answers_from_two_heights() {
    // Every view lags, so every answer names its height in the EDE; the TXT
    // names it in the data. Flip between two branches' heights meanwhile.
    let cell = Arc::new(SnapshotCell::new(at(100, Some(5))));
    let (addr, stop) = serve(cell.clone()).await;
    let done = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (cell, done) = (cell.clone(), done.clone());
        std::thread::spawn(move || {
            let (a, b) = (at(100, Some(5)), at(99, Some(6)));
            let mut i = 0u64;
            while !done.load(Ordering::Relaxed) {
                cell.publish(if i.is_multiple_of(2) { b.clone() } else { a.clone() });
                i += 1;
                std::thread::sleep(Duration::from_micros(50));
            }
            i
        })
    };
    let mut seen = [0usize; 2];
    for i in 0..400 {
        let p = if i % 4 == 0 { Proto::Tcp } else { Proto::Udp };
        let r = ask(addr, p, "n.id.", RecordType::TXT).await;
        let RData::TXT(txt) = &r.answers[0].data else { panic!("{r:?}") };
        let data = txt.to_string();
        let ede = ede_text(&r).expect("EDE");
        let h: u64 = data.trim_start_matches("h=").parse().unwrap();
        assert!(ede.contains(&format!("index at block {h} is")), "data from {h}, EDE {ede}");
        seen[(h - 99) as usize] += 1;
    }
    done.store(true, Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    assert!(flips > 100, "{flips}");
    assert!(seen[0] > 0 && seen[1] > 0, "both branches answered: {seen:?}");
    let _ = stop.send(());
}
