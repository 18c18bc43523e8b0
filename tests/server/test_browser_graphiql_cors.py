"""In Chromium: GraphiQL renders and runs a query with every request off this machine blocked, and
CORS lets a page on a listed origin call the API while the browser refuses an unlisted one."""
from __future__ import annotations

import json

from podium.core.settings import Settings
from podium.server.app import create_app
from tests import browser
from tests.browser import chromium_browser, sqlite_url  # noqa: F401 - fixtures
from tests.live_server import serve
from tests.server.conftest import ADMIN_TOKEN


async def _post(page, url: str, query: str) -> str:
    """fetch() from the page's origin with a bearer token (a preflighted request): the JSON, or the error."""
    return await page.evaluate(f"""fetch({json.dumps(url)}, {{method: 'POST',
        headers: {{'Content-Type': 'application/json', 'Authorization': 'Bearer {ADMIN_TOKEN}'}},
        body: JSON.stringify({{query: {json.dumps(query)}}})}})
      .then(r => r.text()).catch(e => 'refused: ' + e)""")


async def test_graphiql_renders_and_runs_a_query_with_the_outside_network_blocked(
        chromium_browser, sqlite_url):
    browser.require_graphiql_assets()
    app = create_app(Settings(database_url=sqlite_url, admin_token=ADMIN_TOKEN))
    with serve(app, lifespan="on") as base:
        async with chromium_browser.page() as page:
            await _post(page, base + "/healthz", "")  # nothing to do with the test: warms the connection
            await page.open(base + "/graphql")
            await page.wait_for("document.querySelector('.graphiql-query-editor .CodeMirror')")
            await page.evaluate("""document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror
                .setValue('{ courses(first: 5) { totalCount } __typename }')""")
            await page.click(".graphiql-execute-button")
            result = await page.wait_for("""(() => { const r = document.querySelector('.result-window');
                return r && r.innerText.includes('totalCount') && r.innerText; })()""")
            shot = await page.screenshot("graphiql.png")
        assert '"totalCount": 0' in result and '"__typename": "Query"' in result, result
        assert shot.stat().st_size > 10_000
        assert page.blocked == [], f"GraphiQL reached off this machine: {page.blocked}"
        assert not [line for line in page.console if "Content Security Policy" in line or "exception" in line], \
            page.console
        scripts = [u for u in page.requested if "/graphql/static/" in u]
        assert {u.rsplit("/", 1)[1] for u in scripts} >= {"react.production.min.js", "react-dom.production.min.js",
                                                          "graphiql.min.js", "graphiql.min.css", "start.js"}
        assert all(u.startswith(base) or u.startswith("data:") for u in page.requested), page.requested


async def test_cors_in_chromium_a_listed_origin_calls_the_api_an_unlisted_one_is_refused(
        chromium_browser, sqlite_url, tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<!doctype html><title>a portal</title><p>portal</p>")
    with browser.static_site(tmp_path / "site") as allowed, browser.static_site(tmp_path / "site") as unlisted:
        app = create_app(Settings(database_url=sqlite_url, admin_token=ADMIN_TOKEN, cors_origins=(allowed,)))
        with serve(app, lifespan="on") as base:
            async with chromium_browser.page() as page:
                await page.open(allowed + "/index.html")
                answer = await _post(page, base + "/graphql", "{ courses(first: 1) { totalCount } }")
                assert json.loads(answer) == {"data": {"courses": {"totalCount": 0}}}
                request_id = await page.evaluate(f"""fetch({json.dumps(base + '/graphql')}, {{method: 'POST',
                    headers: {{'Content-Type': 'application/json'}}, body: '{{"query": "{{ __typename }}"}}'}})
                    .then(r => r.headers.get('X-Request-ID'))""")
                assert request_id, "X-Request-ID is exposed to the page"
            async with chromium_browser.page() as page:
                await page.open(unlisted + "/index.html")
                answer = await _post(page, base + "/graphql", "{ courses(first: 1) { totalCount } }")
                assert answer.startswith("refused: TypeError"), answer
