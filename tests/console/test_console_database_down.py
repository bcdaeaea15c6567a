"""The console while the state database (a real PostgreSQL) is down: a clear page in the plugin's layout."""
from __future__ import annotations

from console_helpers import Console, text_of


def test_a_database_that_is_down_is_said_in_the_plugins_layout(env, host_factory, postgres_server, postgres_url):
    env.write_config(database_url=postgres_url)
    console = Console(host_factory(env.config_path))
    assert console.get("/").status_code == 200
    postgres_server.pause()
    try:
        pages = {path: console.get(path) for path in ("/", "/history", "/held")}
    finally:
        postgres_server.resume()
    for path, response in pages.items():
        text = text_of(response)
        assert response.status_code == 503, (path, text[:300])
        assert "The state database cannot be reached:" in text and "Check that PostgreSQL runs" in text, (path, text[:300])
        assert 'class="gs-tabs"' in response.get_data(as_text=True)  # the plugin's tabs, inside the host's layout
        assert "PASSWORD" not in text and "Traceback" not in text
    assert console.get("/").status_code == 200  # back as soon as the database is
