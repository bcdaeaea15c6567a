"""A local, faithful emulator of the Google Admin SDK Directory API v1 and OAuth token endpoint.

    from app_google_sync.emulator.server import Emulator
    emu = Emulator(domain="example.com", admin_email="admin@example.com").start()
    key = emu.create_service_account()      # JSON key dict, delegated for all directory scopes
    # build("admin", "directory_v1", credentials=…, client_options={"api_endpoint": emu.base_url})
    # batches: BatchHttpRequest(batch_uri=emu.base_url + "batch/admin/directory_v1")
    emu.stop()

Choices where Google leaves room (documented here so tests can rely on them):
- users.update / groups.update / members.update behave like patch (Google documents update
  with patch semantics for users): omitted fields are kept, `null` clears an optional field,
  an array sent replaces the stored one whole.
- Batch parts run in a shuffled order; responses come back in that order, matched by Content-ID.
- The quota is one sliding window for the whole emulator (not per user or per project);
  rejected calls are not counted. Token requests never count.
- `latency` is added once per HTTP request (a batch envelope is one request).
- Deleted users are not kept: users.list with showDeleted=true returns an empty page.

Modules: state (the account), rules (input rules), password_store, resources (JSON shapes),
paging, fields (partial responses), routing + api_* (methods), auth (JWT grant, tokens),
batch (multipart), httpd + server (HTTP, Emulator), cli (`google-sync-emulator`).
"""
