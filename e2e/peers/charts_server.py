#!/usr/bin/env python3
"""Static HTTP server for chart repositories in end-to-end tests.

Serves one directory read-only (GET and HEAD), optionally behind HTTP basic auth and/or TLS, so tests can
exercise the same repository over the three transports a chart repository is reached by. Only the
standard library is used, so the test machine needs nothing beyond Python 3.
"""

import argparse
import base64
import functools
import hmac
import http.server
import ssl
import sys


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="directory to serve")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument(
        "--credentials-file",
        help="file holding 'user:password' on one line; enables basic auth",
    )
    parser.add_argument("--tls-cert", help="PEM certificate chain; enables TLS with --tls-key")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    return parser.parse_args(argv)


def read_credentials(path):
    """Returns the expected Authorization header value, read from a file so it never shows in `ps`."""
    with open(path, encoding="utf-8") as handle:
        pair = handle.readline().strip()
    if ":" not in pair:
        raise SystemExit(f"{path}: expected 'user:password' on the first line")
    return "Basic " + base64.b64encode(pair.encode()).decode()


class ChartRepositoryHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files; refuses directory listings and anything that is not GET or HEAD."""

    expected_authorization = None

    def authorized(self):
        if self.expected_authorization is None:
            return True
        supplied = self.headers.get("Authorization", "")
        return hmac.compare_digest(supplied.encode(), self.expected_authorization.encode())

    def refuse_unauthorized(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="capstan-e2e charts"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        if not self.authorized():
            self.refuse_unauthorized()
            return
        super().do_GET()

    def do_HEAD(self):
        if not self.authorized():
            self.refuse_unauthorized()
            return
        super().do_HEAD()

    def list_directory(self, path):
        self.send_error(404, "directory listings are not served")
        return None

    def log_message(self, format, *args):
        # Request lines only: headers (and so credentials) are never logged.
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def main(argv):
    args = parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key must be given together")
    handler = functools.partial(ChartRepositoryHandler, directory=args.root)
    if args.credentials_file:
        ChartRepositoryHandler.expected_authorization = read_credentials(args.credentials_file)
    server = http.server.ThreadingHTTPServer((args.bind, args.port), handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
