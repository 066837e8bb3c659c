#!/usr/bin/env python3
"""What Blockstack Core's own Atlas client sends, against a real bns node.

    python3 core_client.py HOST:PORT EXPECT_ROWS

Calls the node the way Core v21's atlas.py does (xmlrpc.client.ServerProxy;
every result is one string holding a JSON object) and checks the replies'
shapes. Prints `ok: <check>` per check; on the first failure prints
`FAIL: <reason>` and exits 1. Standard library only.
"""
import base64
import binascii
import hashlib
import http.client
import json
import re
import sys
import xmlrpc.client

MAX_INV_SLICE = 524288
PEER_RE = re.compile(r"^([^:]+):([1-9][0-9]{1,4})$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
MAX_BLOCK = 10_000_000
FIRST_BLOCK_MAINNET = 373601


class Failed(Exception):
    pass


# --- hash160 -----------------------------------------------------------------
def _ripemd160_py(data):
    """Pure-Python RIPEMD-160, for an OpenSSL without it."""
    r1 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
          3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12, 1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
          4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13]
    r2 = [5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
          15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13, 8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
          12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11]
    s1 = [11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8, 7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
          11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5, 11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
          9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6]
    s2 = [8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6, 9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
          9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5, 15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
          8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11]
    k1 = [0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E]
    k2 = [0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000]
    fs = [lambda x, y, z: x ^ y ^ z, lambda x, y, z: (x & y) | (~x & z), lambda x, y, z: (x | ~y) ^ z,
          lambda x, y, z: (x & z) | (y & ~z), lambda x, y, z: x ^ (y | ~z)]
    M = 0xFFFFFFFF
    rol = lambda x, n: ((x << n) | (x >> (32 - n))) & M
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    msg = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + (8 * len(data)).to_bytes(8, "little")
    for i in range(0, len(msg), 64):
        x = [int.from_bytes(msg[i + 4 * j:i + 4 * j + 4], "little") for j in range(16)]
        a1, b1, c1, d1, e1 = h
        a2, b2, c2, d2, e2 = h
        for j in range(80):
            r = j // 16
            t = (rol((a1 + (fs[r](b1, c1, d1) & M) + x[r1[j]] + k1[r]) & M, s1[j]) + e1) & M
            a1, b1, c1, d1, e1 = e1, t, b1, rol(c1, 10), d1
            t = (rol((a2 + (fs[4 - r](b2, c2, d2) & M) + x[r2[j]] + k2[r]) & M, s2[j]) + e2) & M
            a2, b2, c2, d2, e2 = e2, t, b2, rol(c2, 10), d2
        h = [(h[1] + c1 + d2) & M, (h[2] + d1 + e2) & M, (h[3] + e1 + a2) & M, (h[4] + a1 + b2) & M,
             (h[0] + b1 + c2) & M]
    return b"".join(v.to_bytes(4, "little") for v in h)


def ripemd160(data):
    try:
        return hashlib.new("ripemd160", data).digest()
    except ValueError:
        return _ripemd160_py(data)


def hash160(data):
    """A zone file's hash: RIPEMD160(SHA256(bytes)), hex."""
    return ripemd160(hashlib.sha256(data).digest()).hex()


# --- reply parsing -------------------------------------------------------------
def is_int(v, minimum=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def decode(reply, what):
    """An Atlas result: one XML-RPC string holding a JSON object."""
    if not isinstance(reply, str):
        raise Failed("%s: result is %s, not a string: %r" % (what, type(reply).__name__, reply))
    try:
        obj = json.loads(reply)
    except ValueError:
        raise Failed("%s: result is not JSON: %r" % (what, reply[:200]))
    if not isinstance(obj, dict):
        raise Failed("%s: JSON is not an object: %r" % (what, reply[:200]))
    return obj


def success(reply, what, *fields):
    """Core's success envelope, with `fields` present."""
    obj = decode(reply, what)
    if "error" in obj or obj.get("status") is not True:
        raise Failed("%s: not a success reply: %s" % (what, json.dumps(obj)[:300]))
    if not isinstance(obj.get("indexing"), bool) or not is_int(obj.get("lastblock")):
        raise Failed("%s: bad indexing/lastblock: %s" % (what, json.dumps(obj)[:300]))
    for f in fields:
        if f not in obj:
            raise Failed("%s: no %r in %s" % (what, f, json.dumps(obj)[:300]))
    return obj


def error(reply, what, message, http_status=400):
    """Core's error reply `{"error": message, "http_status": http_status}`."""
    obj = decode(reply, what)
    if obj.get("error") != message or obj.get("http_status") != http_status:
        raise Failed("%s: want error %r (%d), got %s" % (what, message, http_status, json.dumps(obj)[:300]))
    return obj


def b64(text, what):
    if not isinstance(text, str):
        raise Failed("%s: base64 field is %r" % (what, text))
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise Failed("%s: not base64: %r" % (what, text[:100]))


def version_ok(v):
    m = re.match(r"^(\d+)\.(\d+)", v) if isinstance(v, str) else None
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (0, 17)


def check_getinfo(info, expect_rows):
    for f in ("last_block_seen", "last_block_processed", "first_block", "zonefile_count"):
        if not is_int(info.get(f)):
            raise Failed("getinfo: %s is %r, want an int >= 0" % (f, info.get(f)))
    for f in ("server_alive", "indexing", "testnet"):
        if not isinstance(info.get(f), bool):
            raise Failed("getinfo: %s is %r, want a boolean" % (f, info.get(f)))
    if not isinstance(info.get("consensus"), str) or not HEX32.match(info["consensus"]):
        raise Failed("getinfo: consensus is %r, want 32 hex digits" % info.get("consensus"))
    if not version_ok(info.get("server_version")):
        raise Failed("getinfo: server_version %r is not >= 0.17" % info.get("server_version"))
    if info["zonefile_count"] != expect_rows + 1:
        raise Failed("getinfo: zonefile_count %d, want %d (%d rows + 1)" % (info["zonefile_count"], expect_rows + 1, expect_rows))


def bit_set(inv, i):
    """Whether inventory row i (1-based) is held: bit i-1, MSB first."""
    b = (i - 1) // 8
    return b < len(inv) and bool(inv[b] & (0x80 >> ((i - 1) % 8)))


def check_rows(rows, expect_rows):
    """get_zonefiles_by_block rows: inv_index 1..N in order, heights non-decreasing."""
    for r in rows:
        ok = (isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("txid"), str)
              and isinstance(r.get("zonefile_hash"), str) and HEX40.match(r["zonefile_hash"])
              and is_int(r.get("block_height")) and is_int(r.get("inv_index")))
        if not ok:
            raise Failed("get_zonefiles_by_block: bad row %r" % (r,))
    got = [r["inv_index"] for r in rows]
    if got != list(range(1, expect_rows + 1)):
        raise Failed("get_zonefiles_by_block: inv_index %r, want 1..%d" % (got[:20], expect_rows))
    heights = [r["block_height"] for r in rows]
    if heights != sorted(heights):
        raise Failed("get_zonefiles_by_block: block heights go down: %r" % heights[:20])


def check_zonefiles(files, asked):
    if not isinstance(files, dict):
        raise Failed("get_zonefiles: zonefiles is %r" % (files,))
    for key, text in files.items():
        if key not in asked:
            raise Failed("get_zonefiles: %s returned but not asked for" % key)
        h = hash160(b64(text, "get_zonefiles[%s]" % key))
        if h != key:
            raise Failed("get_zonefiles: bytes under %s hash to %s" % (key, h))
    missing = [h for h in asked if h not in files]
    if missing:
        raise Failed("get_zonefiles: held files not returned: %s" % missing[:5])


def check_peers(obj, what):
    peers = obj.get("peers")
    if not isinstance(peers, list) or not all(isinstance(p, str) and PEER_RE.match(p) for p in peers):
        raise Failed("%s: peers %r are not host:port strings" % (what, peers))


# --- the run -------------------------------------------------------------------
class TimeoutTransport(xmlrpc.client.Transport):
    def make_connection(self, host):
        return http.client.HTTPConnection(host, timeout=30)


def proxy(addr, path):
    return xmlrpc.client.ServerProxy("http://%s%s" % (addr, path), allow_none=True, transport=TimeoutTransport())


class Run:
    def __init__(self):
        self.passed = 0

    def ok(self, what):
        self.passed += 1
        print("ok: %s" % what, flush=True)


def raw_status(addr, method, length=None, send_body=True):
    """HTTP status of a raw request to /RPC2 (with a `length`-byte body if given)."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=15)
    try:
        conn.putrequest(method, "/RPC2")
        conn.putheader("Content-Type", "text/xml")
        if length is not None:
            conn.putheader("Content-Length", str(length))
        conn.endheaders()
        if length and send_body:
            try:
                conn.send(b"x" * length)
            except OSError:
                pass  # the server may answer and close before taking it all
        try:
            return conn.getresponse().status
        except ConnectionResetError:
            if length and send_body:  # the reset ate the reply: ask again, headers only
                return raw_status(addr, method, length, send_body=False)
            raise
    finally:
        conn.close()


def run(addr, n, t):
    rpc = proxy(addr, "/RPC2")
    for path in ("/RPC2", "/"):
        p = decode(proxy(addr, path).ping(), "ping " + path)
        if p.get("status") != "alive" or not isinstance(p.get("version"), str):
            raise Failed("ping %s: %r" % (path, p))
        t.ok("ping on %s: alive, version %s" % (path, p["version"]))

    info = decode(rpc.getinfo(), "getinfo")
    check_getinfo(info, n)
    t.ok("getinfo fields and types; zonefile_count %d = %d rows + 1" % (info["zonefile_count"], n))
    lo = 1 if info["testnet"] else max(info["first_block"], FIRST_BLOCK_MAINNET)

    inv, offset, calls = b"", 0, 0
    while True:  # Core: offset += len while a full slice came back
        piece = b64(success(rpc.get_zonefile_inventory(offset, MAX_INV_SLICE), "get_zonefile_inventory", "inv")["inv"],
                    "inv")
        calls += 1
        inv += piece
        offset += len(piece)
        if len(piece) < MAX_INV_SLICE or calls > 64:
            break
    if len(inv) != (n + 7) // 8 or calls != 1:
        raise Failed("get_zonefile_inventory: %d bytes in %d calls, want %d in 1" % (len(inv), calls, (n + 7) // 8))
    if any(bit_set(inv, i) for i in range(n + 1, len(inv) * 8 + 1)):
        raise Failed("get_zonefile_inventory: bits past row %d set: %s" % (n, inv.hex()))
    held = [i for i in range(1, n + 1) if bit_set(inv, i)]
    t.ok("get_zonefile_inventory: %d bytes, %d of %d rows held" % (len(inv), len(held), n))

    rows, off = [], 0
    while True:
        page = success(rpc.get_zonefiles_by_block(lo, MAX_BLOCK, off, 100), "get_zonefiles_by_block",
                       "zonefile_info")["zonefile_info"]
        if not isinstance(page, list) or len(page) > 100:
            raise Failed("get_zonefiles_by_block: page %r" % (page,))
        if not page:
            break
        rows += page
        off += 100
    check_rows(rows, n)
    t.ok("get_zonefiles_by_block: rows 1..%d in order, heights non-decreasing" % n)

    by_index = {r["inv_index"]: r["zonefile_hash"] for r in rows}
    wanted = sorted({by_index[i] for i in held})
    for i in range(0, len(wanted), 100):
        batch = wanted[i:i + 100]
        check_zonefiles(success(rpc.get_zonefiles(batch), "get_zonefiles", "zonefiles")["zonefiles"], set(batch))
    t.ok("get_zonefiles: all %d held files returned, each hashing to its key" % len(wanted))

    error(rpc.get_zonefile_inventory(0, MAX_INV_SLICE + 1), "inventory length 524289", "invalid length")
    t.ok("get_zonefile_inventory(0, 524289): invalid length")
    error(rpc.get_zonefile_inventory(-1, 10), "inventory offset -1", "invalid offset")
    t.ok("get_zonefile_inventory(-1, 10): invalid offset")
    error(rpc.get_zonefiles(["00" * 20] * 101), "get_zonefiles x101", "Too many requests (no more than 100 allowed)")
    t.ok("get_zonefiles with 101 hashes: too many")
    error(rpc.get_zonefiles(["zz"]), "get_zonefiles zz", "Invalid zone file hash")
    t.ok("get_zonefiles(['zz']): invalid hash")
    error(rpc.put_zonefiles(["eA=="] * 6), "put_zonefiles x6", "Too many zonefiles")
    t.ok("put_zonefiles with 6 files: too many")
    saved = success(rpc.put_zonefiles([base64.b64encode(b"not announced").decode()]), "put_zonefiles", "saved")
    if saved["saved"] != [0]:
        raise Failed("put_zonefiles of an unannounced file: saved %r, want [0]" % saved["saved"])
    t.ok("put_zonefiles of an unannounced file: saved [0]")
    error(rpc.get_zonefiles_by_block(lo, 100 + lo, 0, 101), "get_zonefiles_by_block count 101", "invalid count")
    t.ok("get_zonefiles_by_block count 101: invalid count")
    try:
        r = rpc.no_such_method()
        raise Failed("an unknown method answered %r, want a Fault" % (r,))
    except xmlrpc.client.Fault as f:
        t.ok("unknown method: Fault %d %s" % (f.faultCode, f.faultString[:60]))

    check_peers(success(rpc.atlas_peer_exchange("127.0.0.1:9"), "atlas_peer_exchange", "peers"), "atlas_peer_exchange")
    t.ok("atlas_peer_exchange: peers are host:port")
    check_peers(success(rpc.get_atlas_peers(), "get_atlas_peers", "peers"), "get_atlas_peers")
    t.ok("get_atlas_peers: peers are host:port")

    status = raw_status(addr, "POST", 600000)
    if status != 400:
        raise Failed("a POST of 600000 bytes got HTTP %d, want 400" % status)
    t.ok("POST with Content-Length 600000: HTTP 400")
    status = raw_status(addr, "GET")
    if status != 501:
        raise Failed("GET got HTTP %d, want 501" % status)
    t.ok("GET: HTTP 501")


def main(argv):
    if len(argv) != 3 or not argv[2].isdigit():
        print("usage: core_client.py HOST:PORT EXPECT_ROWS", file=sys.stderr)
        return 2
    t = Run()
    try:
        run(argv[1], int(argv[2]), t)
    except Failed as e:
        print("FAIL: %s" % e, flush=True)
        return 1
    except Exception as e:  # a transport error, a Fault where none was expected, ...
        print("FAIL: after %d checks: %s: %s" % (t.passed, type(e).__name__, e), flush=True)
        return 1
    print("core_client: all %d checks passed" % t.passed, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
