#!/usr/bin/env python3
"""Writes seed inputs for every fuzz target from the repository's test vectors.

usage: gen_seeds.py OUT_DIR [--small]

OUT_DIR/<target>/<sha1> files. --small keeps a few per target (the set
committed under fuzz/seeds/).
"""
import glob, hashlib, json, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out, small = sys.argv[1], "--small" in sys.argv


def write(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


# op_decode: opcode byte + body, from Core's differential vectors.
cases = json.load(open(os.path.join(ROOT, "tests/vectors/wire_core_parse.json")))["cases"]
seen = set()
payloads = []
for c in cases:
    p = c["op"].encode() + bytes.fromhex(c["body"])
    key = (c["op"], len(p), c["core"] is None)
    if small and key in seen:
        continue
    seen.add(key)
    payloads.append(p)
    write("op_decode", p)

# zonefile_parse: mainnet sample (\n-escaped, hash line first) and zones/*.zone.
zones = [open(z, "rb").read() for z in sorted(glob.glob(os.path.join(ROOT, "zones/*.zone")))]
lines = open(os.path.join(ROOT, "tests/vectors/mainnet-zonefiles-sample.txt")).read().splitlines()
mainnet = [l.replace("\\n", "\n").encode() for l in lines[1::2]]
if small:
    # distinct shapes: skip files identical but for the name
    by_shape = {}
    for z in mainnet:
        by_shape.setdefault(len(set(z.split(b"\n"))) // 2 * 1000 + len(z) // 400, z)
    mainnet = list(by_shape.values())[:8] + mainnet[::50]
for z in zones + mainnet:
    write("zonefile_parse", z)


# dns_message: [zone len u16 LE][zone][flags][query].
def query(name, qtype, edns=False, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    for label in name.split("."):
        if label:
            q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    if edns:
        q += b"\0" + struct.pack(">HHIH", 41, 4096, 0, 0)
    return q


A, NS, CNAME, SOA, MX, TXT, AAAA, SRV, ANY, URI = 1, 2, 5, 6, 15, 16, 28, 33, 255, 256
names = ["n.id", "www.n.id", "_http._tcp.n.id", "id", "nx.id", "missing.id", "x.y.n.btc", "example.com"]
for i, z in enumerate(zones + (mainnet[:4] if small else mainnet[:40])):
    for j, (name, t) in enumerate([(n, t) for n in names for t in (A, TXT, URI, ANY, CNAME, MX, SOA, NS, AAAA, SRV)]):
        if small and (i + j) % 23:
            continue
        write("dns_message", struct.pack("<H", len(z)) + z + bytes([j & 1]) + query(name, t, edns=bool(j & 2)))


# tx_scan: consensus-serialized transactions carrying each payload.
def varint(n):
    return bytes([n]) if n < 0xFD else b"\xfd" + struct.pack("<H", n)


def pushdata(d):
    return (bytes([len(d)]) if len(d) <= 75 else b"\x4c" + bytes([len(d)])) + d


def script(b):
    return varint(len(b)) + b


def tx(payload, n_out):
    sig = pushdata(b"\x30" * 71) + pushdata(b"\x02" + b"\x11" * 32)
    txin = b"\xaa" * 32 + struct.pack("<I", 1) + script(sig) + b"\xff\xff\xff\xff"
    outs = [struct.pack("<Q", 0) + script(b"\x6a" + pushdata(b"id" + payload))]
    for k in range(1, n_out):
        outs.append(struct.pack("<Q", 5500 * k) + script(b"\x76\xa9\x14" + bytes([k]) * 20 + b"\x88\xac"))
    return struct.pack("<i", 1) + varint(1) + txin + varint(len(outs)) + b"".join(outs) + struct.pack("<I", 0)


for i, p in enumerate(payloads):
    if small and i % 8:
        continue
    write("tx_scan", tx(p, 2 + i % 3))


# config_toml: settings files of `bns dev` / `bns node` (every kind of value).
configs = [
    b'dns-addr = "127.0.0.1:5353"\nblock-interval = 2.5\napi-addr = "127.0.0.1:0"\n',
    b'upstreams = ["127.0.0.1:5399"]\nnamespace-policy = ["id=bns-first"]\ncache-size = 1000\n',
    b'network = "regtest"\nbitcoind-url = "http://127.0.0.1:1"\nrpc-user = "u"\nrpc-password = "p"\n'
    b'confirmations = 3\ntoken-allocation = ["a=1"]\n',
    b'atlas-addr = "127.0.0.1:7264"\natlas-peers = ["10.0.0.1:6264"]\nzonefile-source = ["http://h:6270"]\n',
    b'dot-addr = "127.0.0.1:8530"\ndot-cert = "c.pem"\ndot-key = "k.pem"\nlog-queries = true\nudp-workers = 2\n',
    b'ns-name = "ns1.example"\nns-addr = ["192.0.2.1", "2001:db8::1"]\ngenerate-names = 10\n',
    b'dns_adr = 1\n[table]\nx = { a = [1, 2.0, "s", 1979-05-27T07:32:00Z] }\n',
]
for c in configs:
    write("config_toml", c)

# atlas_xmlrpc: Core's calls and replies (a string holding JSON), faults, every value type.
def xml_call(method, params):
    ps = "".join(f"<param><value>{p}</value></param>" for p in params)
    return f'<?xml version="1.0"?>\n<methodCall><methodName>{method}</methodName><params>{ps}</params></methodCall>'.encode()


def xml_reply(value):
    return f'<?xml version="1.0"?>\n<methodResponse><params><param><value>{value}</value></param></params></methodResponse>'.encode()


def jstr(obj):
    return "<string>" + json.dumps(obj).replace("&", "&amp;").replace("<", "&lt;") + "</string>"


h = "ab" * 20
for body in [
    xml_call("getinfo", []),
    xml_call("get_zonefile_inventory", ["<int>0</int>", "<int>524288</int>"]),
    xml_call("get_zonefiles", [f"<array><data><value><string>{h}</string></value></data></array>"]),
    xml_call("put_zonefiles", ["<array><data><value><base64>JE9SSUdJTiBhLmlkCg==</base64></value></data></array>"]),
    xml_call("atlas_peer_exchange", ["<string>127.0.0.1:6264</string>"]),
    xml_call("get_zonefiles_by_block", ["<i4>1</i4>", "<i8>2</i8>", "<int>0</int>", "<int>100</int>"]),
    xml_call("x", ["<struct><member><name>a</name><value><boolean>1</boolean></value></member></struct>",
                   "<double>-inf</double>", "<nil/>", "<dateTime.iso8601>20240101T00:00:00</dateTime.iso8601>", "bare"]),
    xml_reply(jstr({"last_block_seen": 10, "consensus": "00" * 16, "server_version": "21.0.0.4",
                    "server_alive": True, "indexing": False, "last_block_processed": 9, "testnet": True})),
    xml_reply(jstr({"status": True, "inv": "/w=="})),
    xml_reply(jstr({"status": True, "zonefiles": {h: "JE9SSUdJTiBhLmlkCg=="}})),
    xml_reply(jstr({"status": True, "saved": [1, 0, 1]})),
    xml_reply(jstr({"status": True, "peers": ["127.0.0.1:6264", "[::1]:20264", "localhost:80"]})),
    b'<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member>'
    b'<member><name>faultString</name><value><string>no &amp; &#13;</string></value></member></struct></value></fault></methodResponse>',
]:
    write("atlas_xmlrpc", body)

# api_request: [method][host][path '\n' body], method/host indexes as the target reads them.
for m, host, path, body in [
    (0, 1, b"/v1/node/ping", b""),
    (0, 1, b"/metrics", b""),
    (0, 2, b"/v1/names/werner.id", b""),
    (0, 1, b"/v1/resolve/www.werner.id", b""),
    (0, 1, b"/v1/zonefiles/" + h.encode(), b""),
    (0, 0, b"/v1/names/werner.id/zonefile/" + h.encode(), b""),
    (0, 1, b"/v1/atlas/status", b""),
    (1, 1, b"/v1/node/ping", b'{"a": 1}'),
    (2, 3, b"/v1/resolve/%FF%FE.id?x=1", b""),
]:
    write("api_request", bytes([m, host]) + path + b"\n" + body)
