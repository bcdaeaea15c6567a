"""`google-sync-emulator`: run the Directory API emulator in the foreground."""

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .auth import DIRECTORY_SCOPES
from .httpd import is_loopback
from .server import Emulator

DESCRIPTION = """\
A local, faithful emulator of Google's Admin SDK Directory API v1 (users, aliases, groups,
members, org units, batch), of the Groups Settings API v1, and of Google's OAuth endpoints:
the token endpoint used by service accounts with domain-wide delegation, and the web-server
flow ("Sign in with Google" consent page, authorization codes with PKCE, refresh tokens,
revocation). Point google-api-python-client at it with
client_options={"api_endpoint": <api_endpoint>} (groupssettings: <api_endpoint>groups/v1/groups/)
and use the service-account key or OAuth client file it writes.
"""

EPILOG = """\
example:
  google-sync-emulator --port 8080 --domain example.com --admin admin@example.com \\
      --service-account-key ./emulator-key.json --state ./emulator-state.json
  then in google_sync.conf, [google]: domain = example.com, admin_email = admin@example.com,
  credentials_file = ./emulator-key.json, api_endpoint = http://127.0.0.1:8080/

  OAuth web flow ("Connect to Google"): add --oauth-client ./client.json --redirect-uri URI and
  --admin-password; sign in on the consent page as the admin with that password.

Use a fixed --port with --service-account-key or --oauth-client: the files record the URIs.
"""


def build_parser():
    parser = argparse.ArgumentParser(prog="google-sync-emulator", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=None,
                        help="address to listen on (default 127.0.0.1; a non-loopback address "
                             "must be given explicitly here)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0 = any free port)")
    parser.add_argument("--domain", default="example.com", help="the account's primary domain (default example.com)")
    parser.add_argument("--admin", default=None, metavar="EMAIL",
                        help="super admin created at start, the user to impersonate (default admin@DOMAIN)")
    parser.add_argument("--admin-password", default=None, metavar="PASSWORD",
                        help="password of the super admin (default: random)")
    parser.add_argument("--service-account-key", default=None, metavar="PATH",
                        help="service-account JSON key: written (mode 0600) if PATH does not exist, "
                             "otherwise its key is trusted")
    parser.add_argument("--oauth-client", default=None, metavar="PATH",
                        help="OAuth web client JSON ({\"web\": {...}} as Cloud Console downloads it): written "
                             "(mode 0600) if PATH does not exist, otherwise that client is trusted")
    parser.add_argument("--redirect-uri", action="append", default=[], metavar="URI",
                        help="redirect URI registered for --oauth-client (repeatable; https, or http on "
                             "localhost / a loopback address)")
    parser.add_argument("--scopes", nargs="+", default=None, metavar="SCOPE",
                        help="scopes delegated to the service account (default: all directory scopes); "
                             "short names like admin.directory.user are accepted")
    parser.add_argument("--quota", type=int, default=None, metavar="N",
                        help="API calls allowed per window; more get 403 userRateLimitExceeded (default: unlimited)")
    parser.add_argument("--quota-window", type=float, default=60.0, metavar="SECONDS",
                        help="length of the quota window (default 60)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="delay added to every HTTP request (default 0)")
    parser.add_argument("--fail-rate", type=float, default=0.0, metavar="P",
                        help="fraction of API calls answered 503 backendError (default 0)")
    parser.add_argument("--state", default=None, metavar="FILE",
                        help="JSON file the account is loaded from at start and saved to on every change")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request (and more) to stderr")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = args.host or "127.0.0.1"
    if not 0.0 <= args.fail_rate <= 1.0:
        raise SystemExit("--fail-rate must be between 0 and 1")
    try:
        emulator = Emulator(domain=args.domain, admin_email=args.admin or "admin@" + args.domain,
                            quota_per_window=args.quota, quota_window=args.quota_window, latency=args.latency,
                            fail_rate=args.fail_rate, state_file=args.state, admin_password=args.admin_password)
    except (ValueError, OSError) as error:
        raise SystemExit("google-sync-emulator: %s" % error)
    try:
        emulator.start(host, args.port, allow_remote=args.host is not None)
    except OSError as error:
        raise SystemExit("cannot listen on %s:%d: %s" % (host, args.port, error.strerror or error))
    if not is_loopback(host):
        logging.warning("listening on %s: anyone who can reach it can use this emulator", host)
    key_path = _service_account(emulator, args.service_account_key, _scopes(args.scopes))
    try:
        client_path = _oauth_client(emulator, args.oauth_client, args.redirect_uri)
    except (ValueError, KeyError, OSError) as error:
        emulator.stop()
        raise SystemExit("google-sync-emulator: --oauth-client: %s" % error)
    print("api_endpoint: %s" % emulator.base_url, flush=True)
    print("token_uri:    %s" % emulator.token_uri, flush=True)
    print("customer:     %s (%s, admin %s)" % (emulator.customer_id, emulator.domain, emulator.admin_email),
          flush=True)
    if client_path:
        print("auth_uri:     %s" % emulator.auth_uri, flush=True)
        print("oauth client: %s" % client_path, flush=True)
    if key_path:
        print("key file:     %s" % key_path, flush=True)
    _wait_for_signal()
    emulator.stop()
    return 0


def _scopes(names):
    if names is None:
        return None
    return [n if n.startswith("https://") else "https://www.googleapis.com/auth/" + n for n in names]


def _service_account(emulator, path, scopes):
    if path is None:
        return None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as source:
            info = json.load(source)
        emulator.register_service_account(info, scopes)
        if info.get("token_uri") != emulator.token_uri:
            logging.warning("%s has token_uri %s; this emulator's is %s", path, info.get("token_uri"),
                            emulator.token_uri)
        return path
    info = emulator.create_service_account(scopes or list(DIRECTORY_SCOPES))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(info, out, indent=2)
    return path


def _oauth_client(emulator, path, redirect_uris):
    if path is None:
        if redirect_uris:
            raise SystemExit("google-sync-emulator: --redirect-uri needs --oauth-client")
        return None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as source:
            config = json.load(source)
        emulator.register_oauth_client(config, redirect_uris)
        web = config.get("web", config)
        for name, mine in (("auth_uri", emulator.auth_uri), ("token_uri", emulator.token_uri)):
            if web.get(name) != mine:
                logging.warning("%s has %s %s; this emulator's is %s", path, name, web.get(name), mine)
        return path
    if not redirect_uris:
        raise ValueError("a new OAuth client needs at least one --redirect-uri")
    config = emulator.create_oauth_client(redirect_uris)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
    return path


def _wait_for_signal():
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    sys.exit(main())
