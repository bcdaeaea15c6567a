"""A local, faithful emulator of the Google Admin SDK Directory API v1, the Groups Settings
API v1, the Enterprise License Manager API v1 (licenseAssignments) and Google's OAuth endpoints
(service-account token grant and the web-server flow).

The account can have several domains and domain aliases (emu.add_domain(d, alias_of=None);
domains.list), custom user schemas (emu.add_schema(name, [(field, type, multi)]); schemas.*;
users' customSchemas, shown with projection=full or =custom), photos (users.photos.*; emu.photo(key))
and licence SKUs with a seat count (emu.add_sku(product, sku, seats); emu.licensed(product, sku);
build("licensing", "v1", client_options={"api_endpoint": emu.base_url}); batches at base_url + "batch").

    from app_google_sync.emulator.server import Emulator
    emu = Emulator(domain="example.com", admin_email="admin@example.com", admin_password="…").start()
    key = emu.create_service_account()      # JSON key dict, delegated for all directory scopes
    # build("admin", "directory_v1", credentials=…, client_options={"api_endpoint": emu.base_url})
    # batches: BatchHttpRequest(batch_uri=emu.base_url + "batch/admin/directory_v1")
    # build("groupssettings", "v1", credentials=…,
    #       client_options={"api_endpoint": emu.base_url + "groups/v1/groups/"})
    # its batches: BatchHttpRequest(batch_uri=emu.base_url + "batch/groupssettings/v1")
    client = emu.create_oauth_client([redirect_uri])   # {"web": {client_id, client_secret, auth_uri, …}}
    # Flow.from_client_config(client, scopes, redirect_uri=…); the browser signs in on auth_uri
    # (users sign in with the passwords they were seeded with); tests may skip the page with
    # emu.authorize(client_id, email, scopes, redirect_uri, state, code_challenge) -> code.
    # Revocation: POST emu.base_url + "revoke?token=…". Inspection: emu.oauth_grants(),
    # emu.group_settings(email), emu.write_calls(), emu.stats().
    # Trouble, switchable while serving: emu.outage = True, emu.outage_for(s), emu.fail_next(n),
    # emu.fail_calls_about(*emails_or_ids),
    # emu.fail_tokens_after(n), emu.expire_tokens(), emu.answer_delay = s,
    # emu.drop_answers_after(n), emu.propagation_delay = s, emu.quota_per_window = n,
    # emu.quota_status = 429, emu.max_concurrent = n, emu.garble_answers_after(n, kind=…),
    # emu.thin_pages(cap, empty), emu.odd_shapes = True. Emulator(clock=…) for tests' own time.
    emu.stop()

Note: google.oauth2.credentials.Credentials.from_authorized_user_info ignores the file's
token_uri (it always puts Google's); follow it with .with_token_uri(info["token_uri"]).

Choices where Google leaves room (documented here so tests can rely on them):
- users.update / groups.update / members.update behave like patch (Google documents update
  with patch semantics for users): omitted fields are kept, `null` clears an optional field,
  an array sent replaces the stored one whole.
- Batch parts run in a shuffled order; responses come back in that order, matched by Content-ID.
- The quota is a sliding window per delegated user (the token's subject, by whichever address
  it names it: Google's "per user per project"); every batch part counts; rejected calls are
  not counted. Token requests never count. Past it: 403 userRateLimitExceeded, or 429
  rateLimitExceeded with quota_status=429.
- `max_concurrent` caps the API requests served at once, for the whole emulator; a batch
  envelope is one request. More answer 403 quotaExceeded. A request holds its slot through
  `latency` and `answer_delay`.
- An outage (`outage`, `outage_for`) refuses whole requests: a batch envelope answers 503,
  not its parts. The token endpoint and the OAuth pages stay up (another Google service).
- `latency` is added once per HTTP request (a batch envelope is one request), before it is
  served; `answer_delay` after it is served and saved, before its answer is written.
- `drop_answers_after` closes the connection unanswered after serving; httplib2 then sends the
  request once more by itself, so a dropped users.insert comes back as 409 to the client.
- `garble_answers_after` spoils whole answers after serving them (HTML pages, answers cut short,
  a batch answer lacking its last part); `thin_pages` and `odd_shapes` give the leeway Google's
  documentation takes (fewer items than maxResults, empty pages with a token, omitted empty
  fields, addresses in another letter case, fields a client does not know).
- `fail_tokens_after` fails every grant at /token alike (service accounts and the web flow).
- Propagation (`propagation_delay`): see propagation.py for which calls refuse what is new.
- `clock` (default time.monotonic) times the quota window, outage_for and propagation; token
  lifetimes stay on wall time.
- Deleted users are not kept: users.list with showDeleted=true returns an empty page.
- Groups Settings: update behaves like patch; a new group gets Google's defaults with
  whoCanPostMessage ANYONE_CAN_POST (Google's depends on the account's Groups sharing settings);
  of the deprecated settings merged into newer ones only showInGroupDirectory is tied to
  whoCanDiscoverGroup. The default format is Atom (as Google's); errors are always JSON.
  Settings calls share their user's quota window.
- OAuth web flow: see oauth.py (one page for sign-in and consent, no browser session,
  code lifetime 10 minutes, no id_token).

Offboarding: users.signOut, tokens.* and asps.* (api_security; emu.add_token, emu.add_app_password, emu.tokens,
emu.app_passwords, emu.sign_outs) and the Data Transfer API (api_datatransfer, under admin/datatransfer/v1/;
emu.add_drive_files, emu.drive_files, emu.data_transfers, emu.fail_transfers(n)); see those modules for the rules.

Modules: state (the account), rules (input rules), password_store, resources (JSON shapes),
paging, fields (partial responses), routing + api_* (methods; api_settings is Groups Settings),
auth (JWT grant, tokens), oauth + consent (web-server flow and its pages), batch (multipart),
limits (quota, concurrency), faults (outage, token failures, lost answers), propagation
(eventual consistency), httpd + server (HTTP, Emulator), cli (`google-sync-emulator`).
"""
