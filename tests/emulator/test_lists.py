"""List methods: required parameters, maxResults limits, paging, empty pages, `fields` selection."""

import pytest
from emulator_helpers import error_of
from googleapiclient.errors import HttpError

SHA1_OF_PASSWORD = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"


def seed_users(emu, count):
    for number in range(count):  # pre-hashed: salting and hashing 600 cleartexts is slow
        emu.add_user(
            "user%04d@example.com" % number, "User", "N%04d" % number, password=SHA1_OF_PASSWORD, hash_function="SHA-1"
        )


def all_pages(method, key, **params):
    pages, token = [], None
    while True:
        page = method(pageToken=token, **params).execute() if token else method(**params).execute()
        pages.append(page.get(key, []))
        token = page.get("nextPageToken")
        if not token:
            return pages


def test_users_paging_past_500(emu, service):
    seed_users(emu, 620)
    pages = all_pages(service.users().list, "users", customer="my_customer", maxResults=500, orderBy="email")
    assert [len(p) for p in pages] == [500, 121]  # 620 + the admin
    emails = [u["primaryEmail"] for page in pages for u in page]
    assert emails == sorted(emails) and len(set(emails)) == 621


def test_users_default_page_is_100(emu, service):
    seed_users(emu, 150)
    page = service.users().list(customer="my_customer").execute()
    assert len(page["users"]) == 100 and page["nextPageToken"]


@pytest.mark.parametrize("max_results", [501, 0])
def test_users_max_results_out_of_range_is_400(service, max_results):
    with pytest.raises(HttpError) as raised:
        service.users().list(customer="my_customer", maxResults=max_results).execute()
    assert error_of(raised)[:2] == (400, "invalid")


def test_users_list_requires_customer_or_domain(emu, service):
    with pytest.raises(HttpError) as raised:
        service.users().list().execute()
    assert error_of(raised) == (400, "badRequest", "Bad Request")
    assert service.users().list(domain="example.com").execute()["users"]
    assert service.users().list(customer=emu.customer_id).execute()["users"]
    with pytest.raises(HttpError) as raised:
        service.users().list(customer="C0someoneelse").execute()
    assert error_of(raised)[0] == 403


def test_empty_page_omits_list_key(emu, service):
    page = service.users().list(customer="my_customer", query="email:nobody").execute()
    assert page["kind"] == "admin#directory#users" and "etag" in page
    assert "users" not in page and "nextPageToken" not in page
    assert "groups" not in service.groups().list(customer="my_customer").execute()
    emu.add_group("empty@example.com", "Empty")
    assert "members" not in service.members().list(groupKey="empty@example.com").execute()
    orgunits = service.orgunits().list(customerId="my_customer").execute()
    assert orgunits["kind"] == "admin#directory#orgUnits" and "organizationUnits" not in orgunits


def test_fields_selection_on_lists(emu, service):
    emu.add_user("ada@example.com", "Ada", "Lovelace", suspended=True)
    page = (
        service.users()
        .list(
            customer="my_customer",
            maxResults=1,
            orderBy="email",
            fields="nextPageToken,users(id,primaryEmail,name(givenName,familyName),suspended,isAdmin)",
        )
        .execute()
    )
    assert set(page) == {"users", "nextPageToken"}
    user = page["users"][0]
    assert set(user) == {"id", "primaryEmail", "name", "suspended", "isAdmin"}
    assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace"} and user["suspended"] is True


def test_fields_selection_on_get_with_paths(service):
    user = service.users().get(userKey="admin@example.com", fields="primaryEmail,name/fullName").execute()
    assert user == {"primaryEmail": "admin@example.com", "name": {"fullName": "Super Admin"}}


@pytest.mark.parametrize("selector", ["users(", "bogus", "users(nope)", "users/primaryEmail/x", "a,,b"])
def test_invalid_fields_is_400(service, selector):
    with pytest.raises(HttpError) as raised:
        service.users().list(customer="my_customer", fields=selector).execute()
    status, reason, message = error_of(raised)
    assert status == 400 and message.startswith("Invalid field selection")


def test_user_query_terms(emu, service):
    emu.add_user("ada@example.com", "Ada", "Lovelace", suspended=True)
    emu.add_user("alan@example.com", "Alan", "Turing")

    def emails(query):
        page = service.users().list(customer="my_customer", query=query).execute()
        return [u["primaryEmail"] for u in page.get("users", [])]

    assert emails("isSuspended=true") == ["ada@example.com"]
    assert emails("isSuspended=false") == ["admin@example.com", "alan@example.com"]
    assert emails("isAdmin=true") == ["admin@example.com"]
    assert emails("email:ala") == ["alan@example.com"]
    assert emails("email=ada@example.com") == ["ada@example.com"]
    assert emails("givenName:ad isSuspended=true") == ["ada@example.com"]


def test_users_sorted_descending(emu, service):
    seed_users(emu, 3)
    page = service.users().list(customer="my_customer", orderBy="email", sortOrder="DESCENDING").execute()
    emails = [u["primaryEmail"] for u in page["users"]]
    assert emails == sorted(emails, reverse=True)


def test_paging_stays_correct_when_users_change_between_pages(emu, service):
    seed_users(emu, 10)
    first = service.users().list(customer="my_customer", maxResults=5, orderBy="email").execute()
    service.users().delete(userKey=first["users"][1]["primaryEmail"]).execute()
    second = (
        service.users()
        .list(customer="my_customer", maxResults=5, orderBy="email", pageToken=first["nextPageToken"])
        .execute()
    )
    seen = [u["primaryEmail"] for u in first["users"] + second["users"]]
    assert len(set(seen)) == 10


def test_bad_page_token_is_400(service):
    with pytest.raises(HttpError) as raised:
        service.users().list(customer="my_customer", pageToken="%%%").execute()
    assert error_of(raised)[0] == 400
