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
        assert "The state database cannot be reached:" in text and "Check that PostgreSQL runs" in text, (
            path,
            text[:300],
        )
        assert 'class="gs-tabs"' in response.get_data(as_text=True)  # the plugin's tabs, inside the host's layout
        assert "PASSWORD" not in text and "Traceback" not in text
    assert console.get("/").status_code == 200  # back as soon as the database is


def test_the_page_in_chromium_on_the_reference_host(env, tmp_path, postgres_server, postgres_url, page):
    import threading

    from console_helpers import shot
    from werkzeug.serving import make_server

    from app_google_sync.host.demo import ADMIN_PASSWORD, ADMIN_USERNAME, build_demo_app

    env.write_config(database_url=postgres_url)
    app = build_demo_app(env, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), CONSOLE_STRICT_PLUGINS=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    plugin = f"http://127.0.0.1:{server.server_port}/app/google_sync"
    try:
        page.goto(plugin + "/")
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        postgres_server.pause()
        try:
            answer = page.goto(plugin + "/history")
            text = page.inner_text("body")
            shot(page, "database-down")
        finally:
            postgres_server.resume()
        assert answer.status == 503
        assert "The state database cannot be reached" in text and "Check that PostgreSQL runs" in text
        assert page.locator(".gs-tabs").is_visible()  # the plugin's layout, in the host's page
    finally:
        server.shutdown()
        app.extensions["google_sync"].runs.join(30)
        app.extensions["google_sync"].shutdown()
