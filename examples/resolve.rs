//! Resolve a name against a running bns node with hickory's DNS client and
//! print each answer with its TTL.
//!
//!     cargo run --example resolve -- werner.id TXT
//!     cargo run --example resolve -- _443._tcp.werner.id TLSA --server 127.0.0.1:5300 --tcp

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

fn type_name(t: RecordType) -> String {
    if t == RecordType::Unknown(256) {
        "URI".into()
    } else {
        t.to_string()
    }
}

/// Record data as a zone file would write it (TXT strings quoted, URI decoded).
fn show(data: &RData) -> String {
    match data {
        RData::TXT(txt) => {
            txt.txt_data.iter().map(|s| format!("{:?}", String::from_utf8_lossy(s))).collect::<Vec<_>>().join(" ")
        }
        RData::Unknown { code, rdata } if *code == RecordType::Unknown(256) => match &rdata.anything[..] {
            [p0, p1, w0, w1, target @ ..] => format!(
                "{} {} {:?}",
                u16::from_be_bytes([*p0, *p1]),
                u16::from_be_bytes([*w0, *w1]),
                String::from_utf8_lossy(target)
            ),
            _ => "(malformed URI)".into(),
        },
        other => other.to_string(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!(
            "usage: resolve NAME [TYPE] [--server IP:PORT] [--tcp]   (TYPE defaults to A, server to 127.0.0.1:5300)"
        );
        return Ok(());
    }
    let name = Name::from_ascii(&args[0])?;
    let rtype = match args.get(1).filter(|a| !a.starts_with("--")) {
        Some(t) if t.eq_ignore_ascii_case("URI") => RecordType::Unknown(256),
        Some(t) => RecordType::from_str(&t.to_ascii_uppercase())?,
        None => RecordType::A,
    };
    let server: SocketAddr = args
        .windows(2)
        .find(|w| w[0] == "--server")
        .map(|w| w[1].parse())
        .transpose()?
        .unwrap_or_else(|| "127.0.0.1:5300".parse().expect("constant address"));
    let tcp = args.iter().any(|a| a == "--tcp");

    let provider = TokioRuntimeProvider::default();
    let mut client = if tcp {
        let (stream, sender) = TcpClientStream::new(server, None, Some(Duration::from_secs(5)), provider);
        let (client, bg) = Client::<TokioRuntimeProvider>::new(stream.await?, sender);
        tokio::spawn(bg);
        client
    } else {
        let conn = UdpClientStream::builder(server, provider).with_timeout(Some(Duration::from_secs(5))).build();
        let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
        tokio::spawn(bg);
        client
    };
    let resp = client.query(name.clone(), DNSClass::IN, rtype).await?;
    println!(
        ";; {} {} from {} ({}): {:?}",
        name,
        rtype,
        server,
        if tcp { "tcp" } else { "udp" },
        resp.metadata.response_code
    );
    for r in &resp.answers {
        println!("{}\t{}\t{}\t{}", r.name, r.ttl, type_name(r.record_type()), show(&r.data));
    }
    for r in &resp.authorities {
        println!(";; authority: {}\t{}\t{}\t{}", r.name, r.ttl, r.record_type(), r.data);
    }
    Ok(())
}
