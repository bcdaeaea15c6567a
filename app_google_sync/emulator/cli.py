"""`google-sync-emulator`: run the Directory API emulator in the foreground."""

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .auth import DIRECTORY_SCOPES
from .faults import GARBLES
from .httpd import is_loopback
from .server import Emulator

DESCRIPTION = """\
A local, faithful emulator of Google's Admin SDK Directory API v1 (users, aliases, photos, groups,
members, org units, domains and domain aliases, custom user schemas, batch), of the Groups Settings
API v1, of the Enterprise License Manager (licensing v1), and of Google's OAuth endpoints:
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

signals:
  SIGUSR1 switches the outage on or off (kill -USR1 PID); SIGUSR2 logs the counters
  (calls accepted, rejected by quota / concurrency / outage, answers dropped, token failures),
  which are also logged at exit.
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="google-sync-emulator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1; a non-loopback address must be given explicitly here)",
    )
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0 = any free port)")
    parser.add_argument("--domain", default="example.com", help="the account's primary domain (default example.com)")
    parser.add_argument(
        "--secondary-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="another domain of the account (repeatable); DOMAIN=PARENT makes it a domain alias of PARENT",
    )
    parser.add_argument(
        "--sku",
        action="append",
        default=[],
        metavar="PRODUCT/SKU=SEATS",
        help="a licence SKU with its number of seats for the licensing API (repeatable), "
        "e.g. Google-Apps/1010020027=50",
    )
    parser.add_argument(
        "--admin",
        default=None,
        metavar="EMAIL",
        help="super admin created at start, the user to impersonate (default admin@DOMAIN)",
    )
    parser.add_argument(
        "--admin-password", default=None, metavar="PASSWORD", help="password of the super admin (default: random)"
    )
    parser.add_argument(
        "--service-account-key",
        default=None,
        metavar="PATH",
        help="service-account JSON key: written (mode 0600) if PATH does not exist, otherwise its key is trusted",
    )
    parser.add_argument(
        "--oauth-client",
        default=None,
        metavar="PATH",
        help='OAuth web client JSON ({"web": {...}} as Cloud Console downloads it): written '
        "(mode 0600) if PATH does not exist, otherwise that client is trusted",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="redirect URI registered for --oauth-client (repeatable; https, or http on "
        "localhost / a loopback address)",
    )
    parser.add_argument(
        "--scopes",
        nargs="+",
        default=None,
        metavar="SCOPE",
        help="scopes delegated to the service account (default: every scope google-sync may ask for, "
        "directory, apps.groups.settings and apps.licensing included); "
        "short names like admin.directory.user are accepted",
    )
    parser.add_argument(
        "--quota",
        type=int,
        default=None,
        metavar="N",
        help="API calls allowed per window to each delegated user (the token's subject: "
        "Google's 'per user per project'), batch parts included; more get "
        "403 userRateLimitExceeded (default: unlimited)",
    )
    parser.add_argument(
        "--quota-window", type=float, default=60.0, metavar="SECONDS", help="length of the quota window (default 60)"
    )
    parser.add_argument(
        "--quota-status",
        type=int,
        choices=(403, 429),
        default=403,
        help="answer past the quota: 403 userRateLimitExceeded (default) or 429 rateLimitExceeded",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        metavar="N",
        help="API requests served at once (a batch envelope is one); more get 403 "
        "quotaExceeded, which clients do not retry by themselves (default: unlimited)",
    )
    parser.add_argument(
        "--propagation-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="eventual consistency: for SECONDS after users.insert, groups.insert, a rename "
        "or a new alias, members.insert naming the new user/group/address answers 404 "
        "'Resource Not Found: memberKey', members.* on the new group answer 404 "
        "'Resource Not Found: groupKey', and users.patch/update/delete/makeAdmin and "
        "users.aliases.insert on the new user answer 412 conditionNotMet 'User creation "
        "is not complete.'; reads see new records at once (default 0)",
    )
    parser.add_argument(
        "--outage",
        action="store_true",
        help="start with the API down: every API call and batch envelope answers 503 "
        "backendError until SIGUSR1 (the token endpoint stays up)",
    )
    parser.add_argument(
        "--outage-for",
        type=float,
        default=None,
        metavar="SECONDS",
        help="an outage of SECONDS from start, then the API comes back",
    )
    parser.add_argument(
        "--fail-tokens-after",
        type=int,
        default=None,
        metavar="N",
        help="the token endpoint grants N tokens, then fails every request (0: from the "
        "start); see --fail-tokens-times and --token-failure-status",
    )
    parser.add_argument(
        "--fail-tokens-times",
        type=int,
        default=None,
        metavar="M",
        help="with --fail-tokens-after: fail only M token requests, then grant again",
    )
    parser.add_argument(
        "--token-failure-status",
        type=int,
        choices=(400, 401, 500, 503),
        default=400,
        help="a failed token request answers 400 invalid_grant (default), 401 invalid_client, "
        "500 internal_failure or 503 temporarily_unavailable; google-auth raises "
        "RefreshError at once for 400/401 and after its own retries for 500/503",
    )
    parser.add_argument(
        "--answer-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait SECONDS after serving each API request (its change already saved) "
        "before answering: a client with a shorter timeout loses the answer (default 0)",
    )
    parser.add_argument(
        "--delay-only-writes",
        action="store_true",
        help="apply --answer-delay and --drop-answers-after only to requests that changed "
        "something (reads are answered at once), so a write's answer can be lost mid-run",
    )
    parser.add_argument(
        "--drop-answers-after",
        type=int,
        default=None,
        metavar="N",
        help="answer N API requests, then serve each one in full and close the connection "
        "without an answer (httplib2 then sends the request once more)",
    )
    parser.add_argument(
        "--drop-answers-times",
        type=int,
        default=None,
        metavar="M",
        help="with --drop-answers-after: drop only M answers, then answer again",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay added to every HTTP request, before it is served (default 0)",
    )
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="fraction of API calls answered 503 backendError (default 0)",
    )
    parser.add_argument(
        "--page-cap",
        type=int,
        default=None,
        metavar="N",
        help="list pages hold at most N items whatever maxResults asks (Google may return fewer)",
    )
    parser.add_argument(
        "--empty-pages",
        action="store_true",
        help="each page of a list is preceded by an empty page that carries a nextPageToken",
    )
    parser.add_argument(
        "--odd-shapes",
        action="store_true",
        help="answers omit empty and false fields and name.fullName, upper-case the domain of "
        "addresses and carry a field clients do not know",
    )
    parser.add_argument(
        "--garble-answers-after",
        type=int,
        default=None,
        metavar="N",
        help="answer N API requests, then spoil answers as --garble-kind says (see --garble-times)",
    )
    parser.add_argument(
        "--garble-times", type=int, default=None, metavar="M", help="with --garble-answers-after: spoil only M answers"
    )
    parser.add_argument(
        "--garble-kind",
        choices=GARBLES,
        default="html",
        help="html: a 502 HTML page; html-200: an HTML page with status 200; truncated: the "
        "answer cut off half-way; missing-part: a batch answer lacking a part (default html)",
    )
    parser.add_argument(
        "--state",
        default=None,
        metavar="FILE",
        help="JSON file the account is loaded from at start and saved to on every change",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request (and more) to stderr")
    return parser


def _seed_account(emulator, args):
    """--secondary-domain and --sku: what a real account would already have."""
    try:
        for text in args.secondary_domain:
            domain, _, parent = text.partition("=")
            emulator.add_domain(domain, alias_of=parent or None)
        for text in args.sku:
            name, _, seats = text.partition("=")
            product, _, sku = name.partition("/")
            if not (product and sku and seats.isdigit()):
                raise ValueError("--sku %r: write PRODUCT/SKU=SEATS, e.g. Google-Apps/1010020027=50" % text)
            emulator.add_sku(product, sku, int(seats))
    except ValueError as error:
        raise SystemExit("google-sync-emulator: %s" % error) from None


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    host = args.host or "127.0.0.1"
    _check(args)
    try:
        emulator = Emulator(
            domain=args.domain,
            admin_email=args.admin or "admin@" + args.domain,
            quota_per_window=args.quota,
            quota_window=args.quota_window,
            latency=args.latency,
            fail_rate=args.fail_rate,
            state_file=args.state,
            admin_password=args.admin_password,
            quota_status=args.quota_status,
            max_concurrent=args.max_concurrent,
            propagation_delay=args.propagation_delay,
            answer_delay=args.answer_delay,
            outage=args.outage,
        )
    except (ValueError, OSError) as error:
        raise SystemExit("google-sync-emulator: %s" % error) from None
    emulator.delay_only_writes = args.delay_only_writes
    _seed_account(emulator, args)
    _arm_faults(emulator, args)
    try:
        emulator.start(host, args.port, allow_remote=args.host is not None)
    except OSError as error:
        raise SystemExit("cannot listen on %s:%d: %s" % (host, args.port, error.strerror or error)) from None
    if not is_loopback(host):
        logging.warning("listening on %s: anyone who can reach it can use this emulator", host)
    key_path = _service_account(emulator, args.service_account_key, _scopes(args.scopes))
    try:
        client_path = _oauth_client(emulator, args.oauth_client, args.redirect_uri)
    except (ValueError, KeyError, OSError) as error:
        emulator.stop()
        raise SystemExit("google-sync-emulator: --oauth-client: %s" % error) from None
    print("api_endpoint: %s" % emulator.base_url, flush=True)
    print("token_uri:    %s" % emulator.token_uri, flush=True)
    print("customer:     %s (%s, admin %s)" % (emulator.customer_id, emulator.domain, emulator.admin_email), flush=True)
    if client_path:
        print("auth_uri:     %s" % emulator.auth_uri, flush=True)
        print("oauth client: %s" % client_path, flush=True)
    if key_path:
        print("key file:     %s" % key_path, flush=True)
    _wait_for_signal(emulator)
    emulator.stop()
    _log_stats(emulator)
    return 0


def _check(args):
    if not 0.0 <= args.fail_rate <= 1.0:
        raise SystemExit("--fail-rate must be between 0 and 1")
    for name in ("fail_tokens_times", "drop_answers_times", "garble_times", "page_cap"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise SystemExit("--%s must be at least 1" % name.replace("_", "-"))
    for name in ("quota", "max_concurrent", "fail_tokens_after", "drop_answers_after", "garble_answers_after"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise SystemExit("--%s must not be negative" % name.replace("_", "-"))
    for name in ("latency", "answer_delay", "propagation_delay", "outage_for"):
        if (getattr(args, name) or 0) < 0:
            raise SystemExit("--%s must not be negative" % name.replace("_", "-"))
    for times, after in (
        ("fail_tokens_times", "fail_tokens_after"),
        ("drop_answers_times", "drop_answers_after"),
        ("garble_times", "garble_answers_after"),
    ):
        if getattr(args, times) is not None and getattr(args, after) is None:
            raise SystemExit("--%s needs --%s" % (times.replace("_", "-"), after.replace("_", "-")))


def _arm_faults(emulator, args):
    if args.outage_for:
        emulator.outage_for(args.outage_for)
    if args.fail_tokens_after is not None:
        emulator.fail_tokens_after(args.fail_tokens_after, args.fail_tokens_times, args.token_failure_status)
    if args.drop_answers_after is not None:
        emulator.drop_answers_after(args.drop_answers_after, args.drop_answers_times)
    if args.garble_answers_after is not None:
        emulator.garble_answers_after(args.garble_answers_after, args.garble_times, args.garble_kind)
    emulator.thin_pages(args.page_cap, args.empty_pages)
    emulator.odd_shapes = args.odd_shapes


def _log_stats(emulator):
    logging.info("stats: %s", " ".join("%s=%d" % item for item in sorted(emulator.stats().items())))


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
            logging.warning(
                "%s has token_uri %s; this emulator's is %s", path, info.get("token_uri"), emulator.token_uri
            )
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


def _wait_for_signal(emulator):
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: _toggle_outage(emulator))
    signal.signal(signal.SIGUSR2, lambda *_: _log_stats(emulator))
    stop.wait()


def _toggle_outage(emulator):
    emulator.outage = not emulator.outage
    logging.warning("outage %s", "on: the API answers 503 backendError" if emulator.outage else "off")


if __name__ == "__main__":
    sys.exit(main())
