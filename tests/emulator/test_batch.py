"""The batch endpoint through the client's BatchHttpRequest: many parts, per-part errors, limits."""

import urllib.request

from emulator_helpers import Batch, credentials, directory, error_of, raw, user_body
from google.auth.transport.requests import Request
from googleapiclient.http import BatchHttpRequest

from app_google_sync.emulator.batch import parse


def test_batch_of_many_inserts(emu, service, new_batch):
    batch = new_batch()
    for number in range(200):
        batch.add(service.users().insert(body=user_body("b%03d@example.com" % number)), request_id="u%d" % number)
    results = batch.execute()
    assert len(results) == 200
    assert all(error is None for _, error in results.values())
    assert results["u7"][0]["primaryEmail"] == "b007@example.com"
    assert len(emu.users()) == 201
    assert len(emu.calls) == 200 and all(call["batch"] for call in emu.calls)
    assert [b["parts"] for b in emu.batches] == [200]


def test_batch_parts_run_in_any_order(emu, service, new_batch):
    batch = new_batch()
    paths = ["/admin/directory/v1/users/%s" % key for key in ("admin@example.com", *map(str, range(39)))]
    for number, path in enumerate(paths):
        batch.add(service.users().get(userKey=path.rsplit("/", 1)[1]), request_id=str(number))
    results = batch.execute()
    assert results["0"][1] is None and error_of(results["1"][1])[0] == 404
    executed = [c["path"] for c in emu.calls]
    assert sorted(executed) == sorted(paths)
    assert executed != paths  # shuffled like Google may (same order by chance: 1 in 40!)


def test_batch_per_part_errors(emu, service, new_batch):
    emu.add_user("dup@example.com", "D", "Up")
    batch = new_batch()
    batch.add(service.users().insert(body=user_body("dup@example.com")), request_id="dup")
    batch.add(service.users().get(userKey="ghost@example.com"), request_id="ghost")
    batch.add(service.users().insert(body=user_body("bad@example.com", password="short")), request_id="bad")
    batch.add(service.groups().insert(body={"email": "fine@example.com", "name": "Fine"}), request_id="ok")
    batch.add(service.users().delete(userKey="dup@example.com"), request_id="delete")
    results = batch.execute()
    assert error_of(results["ghost"][1]) == (404, "notFound", "Resource Not Found: userKey")
    assert error_of(results["bad"][1]) == (400, "invalid", "Invalid Password")
    assert results["ok"] == (results["ok"][0], None) and results["ok"][0]["email"] == "fine@example.com"
    assert results["delete"] == ("", None)
    # insert and delete of the same address are independent parts: either order is legitimate
    assert results["dup"][1] is None or error_of(results["dup"][1])[:2] == (409, "duplicate")


def test_batch_parts_checked_for_scope_one_by_one(emu, key):
    user_only = credentials(key, scopes=["https://www.googleapis.com/auth/admin.directory.user"])
    service = directory(emu, user_only)
    batch = Batch(emu, user_only)
    batch.add(service.users().get(userKey="admin@example.com"), request_id="user")
    batch.add(service.groups().list(customer="my_customer"), request_id="groups")
    results = batch.execute()
    assert results["user"][1] is None
    assert error_of(results["groups"][1])[:2] == (403, "insufficientPermissions")


def test_injected_failures_hit_batch_parts(emu, service, new_batch):
    emu.fail_next(2)
    batch = new_batch()
    for number in range(5):
        batch.add(service.users().get(userKey="admin@example.com"), request_id=str(number))
    results = batch.execute()
    failed = [error_of(error) for _, error in results.values() if error is not None]
    assert failed == [(503, "backendError", failed[0][2])] * 2


def batch_body(token, count):
    part = (
        "--xyz\r\nContent-Type: application/http\r\nContent-ID: <abc + %d>\r\n\r\n"
        "GET /admin/directory/v1/users/admin%%40example.com?fields=id HTTP/1.1\r\n"
        "Authorization: Bearer " + token + "\r\n\r\n\r\n"
    )
    return ("".join(part % (n + 1) for n in range(count)) + "--xyz--\r\n").encode()


def post_batch(emu, body):
    request = urllib.request.Request(
        emu.base_url + "batch", data=body, method="POST", headers={"Content-Type": "multipart/mixed; boundary=xyz"}
    )
    with urllib.request.urlopen(request) as response:
        return response.headers["Content-Type"], response.read().decode()


def test_more_than_1000_parts_is_400(emu, creds):
    # The client refuses to build such a batch itself, so send it by hand.
    creds.refresh(Request())
    assert post_batch(emu, batch_body(creds.token, 1000))[1].count("HTTP/1.1 200 OK") == 1000
    emu.reset_calls()
    status, _, body = raw(
        "POST", emu.base_url + "batch", batch_body(creds.token, 1001), {"Content-Type": "multipart/mixed; boundary=xyz"}
    )
    assert status == 400 and body["error"]["code"] == 400
    assert emu.calls == []


def test_batch_response_wire_format(emu, creds):
    creds.refresh(Request())
    content_type, text = post_batch(emu, batch_body(creds.token, 1))
    assert content_type.startswith("multipart/mixed; boundary=")
    assert "Content-ID: <response-abc + 1>\r\n\r\nHTTP/1.1 200 OK\r\n" in text
    inner = text.partition("HTTP/1.1 200 OK\r\n")[2]
    assert "\r\n\r\n{" in inner  # CRLFCRLF between inner headers and body, or the client breaks


def test_batch_must_be_multipart(emu):
    status, _, body = raw(
        "POST", emu.base_url + "batch/admin/directory_v1", b"{}", {"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"]["code"] == 400


def test_parse_accepts_lf_and_crlf_bodies():
    for newline in ("\n", "\r\n"):
        text = newline.join(
            [
                "--b",
                "Content-Type: application/http",
                "Content-ID: <x + 1>",
                "",
                "POST /admin/directory/v1/users HTTP/1.1",
                "Content-Type: application/json",
                "",
                '{"a": 1}',
                "--b--",
                "",
            ]
        )
        [part] = parse('multipart/mixed; boundary="b"', text.encode())
        assert (part.method, part.target, part.body.strip()) == ("POST", "/admin/directory/v1/users", b'{"a": 1}')
        assert part.content_id == "<x + 1>"


def test_batch_with_service_http_and_non_ascii(emu, service):
    results = {}
    batch = BatchHttpRequest(
        callback=lambda rid, resp, exc: results.setdefault(rid, (resp, exc)),
        batch_uri=emu.base_url + "batch/admin/directory_v1",
    )
    batch.add(
        service.users().insert(body=user_body("zoe@example.com", given="Zoë", family="Ærøskøbing 山田")),
        request_id="zoe",
    )
    batch.execute(http=service._http)
    user, error = results["zoe"]
    assert error is None and user["name"]["fullName"] == "Zoë Ærøskøbing 山田"
    assert emu.get_user("zoe@example.com")["name"]["familyName"] == "Ærøskøbing 山田"
