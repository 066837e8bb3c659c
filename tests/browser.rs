//! A real browser pins BNS names' keys through the chain: headless Chromium
//! (Debian's package) with bns's CA imported into its NSS database
//! (`certutil`) and the PAC file of `bns dev --dane-proxy-addr`.
//!
//! Origins are TLS servers on loopback (rustls, in this process): werner.id
//! presents the key its zone file's TLSA pins; muneeb.id's zone file pins
//! the same key but its server has another (an impostor); hal.btc has no
//! TLSA. Then, without the proxy, two origins present certificates signed by
//! bns's CA itself: one for a name under `.id` (Chromium accepts it) and
//! one for example.com, which the CA's name constraints forbid (Chromium
//! refuses it). Offline: nothing leaves the machine.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::DevNode;

/// An HTTPS origin on `ip` (port 443 when this user may bind it, else a free
/// port) presenting `cert` and answering every request with `body`.
fn origin(ip: &str, cert: CertificateDer<'static>, key: PrivateKeyDer<'static>, body: &str) -> SocketAddr {
    let config = support::tls_server_config(cert, key);
    let listener = TcpListener::bind((ip, 443)).or_else(|_| TcpListener::bind((ip, 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    let page = format!("<!DOCTYPE html><html><body><h1 id=\"origin\">{body}</h1></body></html>");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, response) = (config.clone(), response.clone());
            std::thread::spawn(move || {
                let mut tcp = tcp;
                tcp.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
                let mut conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
                let (mut head, mut buf) = (Vec::new(), [0u8; 1024]);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls.write_all(response.as_bytes());
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    addr
}

fn pem_pair(dir: &Path, name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let cert = CertificateDer::from_pem_file(dir.join(format!("{name}.cert.pem"))).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key.pem"))).unwrap();
    (cert, key)
}

fn url(host: &str, at: SocketAddr) -> String {
    match at.port() {
        443 => format!("https://{host}/"),
        port => format!("https://{host}:{port}/"),
    }
}

/// What headless Chromium shows for `url` (its DOM), with `home`'s NSS database.
fn chromium(home: &Path, flags: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("90")
        .arg("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"])
        .args(["--disable-background-networking", "--disable-component-update", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(flags)
        .arg("--dump-dom")
        .arg(url)
        .env("HOME", home)
        .output()
        .expect("chromium is required (apt-get install chromium libnss3-tools; scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test installs libnss3-tools)"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn chromium_opens_a_pinned_bns_site_and_refuses_impostors_and_foreign_names() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let bns = env!("CARGO_BIN_EXE_bns");
    for name in ["werner.id", "muneeb.id"] {
        run(Command::new(bns).args(["tls", "cert", name, "--out-dir"]).arg(&keys));
    }
    let (wcert, wkey) = pem_pair(&keys, "werner.id");
    let (mcert, mkey) = pem_pair(&keys, "muneeb.id");
    let werner = origin("127.0.0.41", wcert, wkey, "pinned origin werner.id");
    let impostor = origin("127.0.0.42", mcert, mkey, "impostor origin muneeb.id");
    let unpinned_port = TcpListener::bind(("127.0.0.43", 443)).map(|_| 443).unwrap_or(8443);

    // Zone files: werner's TLSA pins werner's key; muneeb.id pins werner's
    // key too, but its server shows another; hal.btc pins nothing.
    let werner_key = {
        let cert = CertificateDer::from_pem_file(keys.join("werner.id.cert.pem")).unwrap();
        bns::dane::probe::Seen::from_cert(cert.as_ref()).unwrap().spki
    };
    let pin_line = |port: u16| {
        let pin = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&werner_key));
        format!("_{port}._tcp IN TLSA 3 1 1 {pin}")
    };
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    std::fs::copy(support::repo_zones().join("namespaces.toml"), zones.join("namespaces.toml")).unwrap();
    let zone = |name: &str, ip: &str, extra: &str| {
        let text = format!("$ORIGIN {name}.\n$TTL 3600\n@ IN A {ip}\n{extra}\n");
        std::fs::write(zones.join(format!("{name}.zone")), text).unwrap();
    };
    zone("werner.id", "127.0.0.41", &pin_line(werner.port()));
    zone("muneeb.id", "127.0.0.42", &pin_line(impostor.port()));
    zone("hal.btc", "127.0.0.43", "");

    let data = dir.path().join("data");
    let node = DevNode::start_with(&data, &zones, &["--dane-proxy-addr", "127.0.0.1:0"]);
    let proxy: SocketAddr = node
        .output
        .iter()
        .find_map(|l| l.strip_prefix("bns dev: DANE proxy listening on "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the proxy's address is printed")
        .parse()
        .unwrap();

    // The user's side: export the CA, import it into Chromium's NSS database.
    let ca_pem = dir.path().join("bns-ca.pem");
    let out = Command::new(bns).args(["dane", "ca", "--data-dir"]).arg(&data).arg("-o").arg(&ca_pem).output().unwrap();
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && note.contains("valid only for names under .btc .id"), "{note}");
    let home = dir.path().join("home");
    let nssdb = format!("sql:{}", home.join(".pki/nssdb").display());
    std::fs::create_dir_all(home.join(".pki/nssdb")).unwrap();
    run(Command::new("certutil").args(["-d", &nssdb, "-N", "--empty-password"]));
    run(Command::new("certutil").args(["-d", &nssdb, "-A", "-t", "C,,", "-n", "bns DANE CA", "-i"]).arg(&ca_pem));

    let pac = [format!("--proxy-pac-url=http://{proxy}/proxy.pac")];
    let dom = chromium(&home, &pac, &url("werner.id", werner));
    assert!(dom.contains("pinned origin werner.id"), "werner.id should load through the proxy: {dom}");

    let dom = chromium(&home, &pac, &url("muneeb.id", impostor));
    assert!(!dom.contains("impostor origin"), "the impostor's page must not be shown: {dom}");
    assert!(dom.contains("bns refused") && dom.contains("matches none of the name"), "{dom}");

    let hal = SocketAddr::new("127.0.0.43".parse().unwrap(), unpinned_port);
    let dom = chromium(&home, &pac, &url("hal.btc", hal));
    assert!(dom.contains("bns refused") && dom.contains("the chain pins no key for hal.btc"), "{dom}");

    let metrics = support::http_get(node.api, "/metrics").body;
    for verdict in ["pinned", "mismatch", "no_tlsa"] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("bns_dane_proxy_requests_total{{verdict=\"{verdict}\"}}")))
            .unwrap_or_else(|| panic!("no {verdict} series: {metrics}"));
        assert!(!line.ends_with(" 0"), "{line}");
    }

    // The CA's name constraints: a certificate it signs for a name under .id
    // is accepted; one for example.com is refused, by Chromium itself.
    let ca = bns::dane::ca::LocalCa::load(&data).unwrap().expect("the CA exists");
    let (inside_cert, key) = ca.issue("inside.id").unwrap();
    let inside = origin("127.0.0.45", inside_cert.clone(), key, "constrained origin inside.id");
    let (cert, key) = ca.issue("example.com").unwrap();
    let outside = origin("127.0.0.46", cert, key, "forbidden origin example.com");
    let direct = |host: &str, at: SocketAddr| {
        vec!["--no-proxy-server".to_string(), format!("--host-resolver-rules=MAP {host} {}", at.ip())]
    };
    let dom = chromium(&home, &direct("inside.id", inside), &url("inside.id", inside));
    assert!(dom.contains("constrained origin inside.id"), "Chromium trusts the imported CA: {dom}");
    let dom = chromium(&home, &direct("example.com", outside), &url("example.com", outside));
    assert!(!dom.contains("forbidden origin"), "the name constraint must hold: {dom}");
    assert!(dom.contains("Privacy error") && dom.contains("ERR_CERT_"), "Chromium's certificate error page: {dom}");

    // Names outside BNS are tunnelled untouched: the origin's own certificate
    // comes through, not one of bns's CA.
    let mut tcp = std::net::TcpStream::connect(proxy).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(tcp, "CONNECT {inside} HTTP/1.1\r\nHost: {inside}\r\n\r\n").unwrap();
    let mut reply = [0u8; 39];
    tcp.read_exact(&mut reply).unwrap();
    assert_eq!(&reply[..], b"HTTP/1.1 200 Connection established\r\n\r\n");
    let sni = rustls::pki_types::ServerName::try_from("inside.id").unwrap();
    let mut conn = rustls::ClientConnection::new(bns::dane::probe::pin_only_config(&[]), sni).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    let shown = conn.peer_certificates().unwrap()[0].clone();
    assert!(shown == inside_cert, "the tunnel carries the origin's own certificate, byte for byte");

    // What else reaches the proxy gets a clear answer.
    let ask = |req: &str| support::http_raw(proxy, req.as_bytes()).expect("an HTTP answer");
    let r = ask("GET http://werner.id/a?b HTTP/1.1\r\nHost: werner.id\r\n\r\n");
    assert_eq!((r.status, r.header("location")), (301, Some("https://werner.id/a?b")));
    let r = ask("GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n");
    assert!(r.status == 200 && r.body.contains("PROXY 127.0.0.1:1") && r.body.contains("\"id\""), "{r:?}");
    let r = ask("GET /ca.pem HTTP/1.1\r\n\r\n");
    assert_eq!((r.status, r.body.as_str()), (200, std::fs::read_to_string(&ca_pem).unwrap().as_str()));
    assert_eq!(ask("GET /nothing HTTP/1.1\r\n\r\n").status, 404);
    assert_eq!(ask("CONNECT werner.id HTTP/1.1\r\n\r\n").status, 400);
    assert_eq!(ask("\x16\x03\x01 junk\r\n\r\n").status, 400);
    assert_eq!(ask("GET http://example.com/ HTTP/1.1\r\n\r\n").status, 502);
    drop(node);
}
