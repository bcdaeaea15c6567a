"""Several clients at once: the emulator's lock keeps the account consistent."""

from concurrent.futures import ThreadPoolExecutor

from emulator_helpers import credentials, directory, user_body


def test_parallel_clients(emu, key):
    def insert_many(worker):
        service = directory(emu, credentials(key))  # httplib2 is not thread-safe: one client each
        for number in range(25):
            service.users().insert(
                body=user_body(
                    "w%d-%02d@example.com" % (worker, number),
                    password="5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
                    hashFunction="SHA-1",
                )
            ).execute()
        service.groups().insert(body={"email": "w%d@example.com" % worker, "name": "W"}).execute()
        return worker

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(insert_many, range(6))) == list(range(6))
    assert len(emu.users()) == 151 and len(emu.groups()) == 6
    assert len(emu.calls) == 156 and {c["status"] for c in emu.calls} == {200}
