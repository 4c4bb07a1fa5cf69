#!/usr/bin/env python3
"""evil-kms.py - the red team's malicious KMS for tests/e2e scenarios red-kms-*.

A TLS 1.3 server (with a certificate the station under test was made to trust: an
intercepted or impersonated KMS) that relays every request to the real lpa-kms as the
station would (its client certificate), and tampers with the record in confirm replies:

  sig      the record's signature replaced by random bytes
  payload  the record's payload edited (another lot), the KMS's signature kept
  none     the header replaced by {"alg":"none","kid":...}, payload and signature kept
  other    the first device's (genuine) record returned for every later device

usage: evil-kms.py MODE PORT_FILE UPSTREAM_PORT KMS_CA CLIENT_CERT CLIENT_KEY CERT KEY
The real KMS stays the source of truth: nothing here signs anything. Once the file
PORT_FILE.honest exists it relays without tampering (the attack is over; the session the
station opened through it stays usable).
"""
import base64
import http.client
import http.server
import json
import os
import re
import socketserver
import ssl
import sys
import threading

MODE, PORT_FILE, UP_PORT, KMS_CA, CLI_CERT, CLI_KEY, CERT, KEY = sys.argv[1:9]
CONFIRM = re.compile(r"^/v1/devices/[0-9a-fA-F]{16}/confirm$")
first_record = None
lock = threading.Lock()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tamper(record):
    global first_record
    header, payload, sig = record.split(".")
    if MODE == "sig":
        return ".".join([header, payload, b64(os.urandom(64))])
    if MODE == "payload":
        body = json.loads(unb64(payload))
        body["lot"] = body["lot"] + "-EDITED"
        edited = json.dumps(body, separators=(",", ":")).encode()
        return ".".join([header, b64(edited), sig])
    if MODE == "none":
        kid = json.loads(unb64(header)).get("kid", "record-1")
        none = json.dumps({"alg": "none", "kid": kid}, separators=(",", ":")).encode()
        return ".".join([b64(none), payload, sig])
    if MODE == "other":
        with lock:
            if first_record is None:
                first_record = record
                return record
            return first_record
    raise SystemExit("unknown mode " + MODE)


def upstream():
    ctx = ssl.create_default_context(cafile=KMS_CA)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(CLI_CERT, CLI_KEY)
    return http.client.HTTPSConnection("127.0.0.1", int(UP_PORT), context=ctx, timeout=30)


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("evil-kms: " + (fmt % args) + "\n")

    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("authorization", "content-type", "accept")}
        conn = upstream()
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        status = resp.status
        conn.close()
        if (self.command == "POST" and CONFIRM.match(self.path) and status == 200
                and not os.path.exists(PORT_FILE + ".honest")):
            reply = json.loads(data)
            reply["record"] = tamper(reply["record"])
            data = json.dumps(reply, separators=(",", ":")).encode()
            self.log_message("tampered with the record of %s (%s)", reply["dev_eui"], MODE)
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = relay


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    srv = Server(("127.0.0.1", 0), Relay)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    srv.serve_forever()


main()
