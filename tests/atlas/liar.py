#!/usr/bin/env python3
"""A hostile Atlas peer for bns's integration tests (tests/atlas.rs).

    python3 liar.py --mode wrong-bytes|withhold|junk|hang --honest HOST:PORT [--port 0]

It forwards getinfo, ping and get_zonefiles_by_block to the honest node (so
it passes vetting: same chain, same consensus hash), then lies:
  wrong-bytes  claims every inventory row; serves forged bytes for every hash
  junk         serves unusable inventories (not base64 / too long / not JSON);
               get_zonefiles hangs
  hang         every method but getinfo and ping hangs
Prints one line, `liar listening on 127.0.0.1:PORT`, then serves forever.
liar_stats() returns the JSON call counts per method. Standard library only.
"""
import argparse
import base64
import functools
import http.client
import itertools
import json
import socketserver
import sys
import threading
import time
import traceback
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCServer

HANG = 3600
MAX_INV_SLICE = 524288


class Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class TimeoutTransport(xmlrpc.client.Transport):
    def make_connection(self, host):
        return http.client.HTTPConnection(host, timeout=10)


class Liar:
    def __init__(self, mode, honest):
        self.mode, self.honest = mode, honest
        self.counts, self.lock = {}, threading.Lock()
        self.junk_kind = itertools.count()

    def upstream(self):
        # One proxy per call: ServerProxy is not thread-safe.
        return xmlrpc.client.ServerProxy("http://%s/RPC2" % self.honest, transport=TimeoutTransport(), allow_none=True)

    def honest_info(self):
        try:
            info = json.loads(self.upstream().getinfo())
            return info if isinstance(info, dict) else {}
        except Exception as e:
            print("liar: honest getinfo failed: %r" % e, file=sys.stderr)
            return {}

    def rows(self):
        n = self.honest_info().get("zonefile_count")
        return max(n - 1, 0) if isinstance(n, int) and not isinstance(n, bool) else 0

    def envelope(self, **fields):
        last = self.honest_info().get("last_block_processed")
        out = {"status": True, "indexing": False, "lastblock": last if isinstance(last, int) else 0}
        out.update(fields)
        return json.dumps(out)

    def hang(self):
        time.sleep(HANG)
        return json.dumps({"error": "timed out", "http_status": 503})

    # --- the Atlas methods -------------------------------------------------
    def getinfo(self, *args):
        return self.upstream().getinfo()

    def ping(self, *args):
        return self.upstream().ping()

    def get_zonefiles_by_block(self, *args):
        if self.mode == "hang":
            return self.hang()
        return self.upstream().get_zonefiles_by_block(*args)

    def get_zonefile_inventory(self, offset=0, length=0, *rest):
        if self.mode == "hang":
            return self.hang()
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (offset, length))
        if not ints or offset < 0:
            return json.dumps({"error": "invalid offset", "http_status": 400})
        if length < 0 or length > MAX_INV_SLICE:
            return json.dumps({"error": "invalid length", "http_status": 400})
        if self.mode == "junk":
            kind = next(self.junk_kind) % 3
            if kind == 0:
                return self.envelope(inv="!!!not base64")
            if kind == 1:
                return self.envelope(inv=base64.b64encode(b"\xff" * (length + 1)).decode())
            return "this is not JSON {"
        vector = b"\xff" * ((self.rows() + 7) // 8)  # wrong-bytes, withhold: every row "held"
        return self.envelope(inv=base64.b64encode(vector[offset:offset + length]).decode())

    def get_zonefiles(self, hashes=None, *rest):
        if self.mode in ("hang", "junk"):
            return self.hang()
        if not isinstance(hashes, list):
            return json.dumps({"error": "Invalid zonefile hashes", "http_status": 400})
        if self.mode == "withhold":  # claims every row, sends nothing
            return self.envelope(zonefiles={})
        forged = {}
        for h in hashes:
            if isinstance(h, str):
                tag = "".join(c for c in h if c.isalnum())[:64]
                text = '$ORIGIN evil.id\n$TTL 3600\n@ IN TXT "forged %s"\n' % tag
                forged[h] = base64.b64encode(text.encode()).decode()
        return self.envelope(zonefiles=forged)

    def put_zonefiles(self, datas=None, *rest):
        if self.mode == "hang":
            return self.hang()
        return self.envelope(saved=[0] * (len(datas) if isinstance(datas, list) else 0))

    def get_atlas_peers(self, *args):
        return self.hang() if self.mode == "hang" else self.envelope(peers=[])

    def atlas_peer_exchange(self, *args):
        return self.hang() if self.mode == "hang" else self.envelope(peers=[])

    def liar_stats(self):
        with self.lock:
            return json.dumps(dict(self.counts))

    def counted(self, name, fn):
        @functools.wraps(fn)
        def call(*args):
            with self.lock:
                self.counts[name] = self.counts.get(name, 0) + 1
            try:
                return fn(*args)
            except Exception as e:
                traceback.print_exc(file=sys.stderr)
                return json.dumps({"error": "liar: %s" % type(e).__name__, "http_status": 500})
        return call


METHODS = ["getinfo", "ping", "get_zonefiles_by_block", "get_zonefile_inventory", "get_zonefiles",
           "put_zonefiles", "get_atlas_peers", "atlas_peer_exchange"]


def main():
    ap = argparse.ArgumentParser(description="a hostile Atlas peer")
    ap.add_argument("--mode", required=True, choices=["wrong-bytes", "withhold", "junk", "hang"])
    ap.add_argument("--honest", required=True, help="HOST:PORT of a real node's Atlas server")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    liar = Liar(a.mode, a.honest)
    server = Server(("127.0.0.1", a.port), logRequests=False, allow_none=True)
    for name in METHODS:
        server.register_function(liar.counted(name, getattr(liar, name)), name)
    server.register_function(liar.liar_stats, "liar_stats")
    sys.stdout.write("liar listening on 127.0.0.1:%d\n" % server.server_address[1])
    sys.stdout.flush()
    sys.stdout = sys.stderr  # the reader may close our stdout: never write to it again
    server.serve_forever()


if __name__ == "__main__":
    main()
