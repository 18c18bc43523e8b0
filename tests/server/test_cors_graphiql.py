"""CORS (PODIUM_CORS_ORIGINS) and the self-hosted GraphiQL page, over HTTP (Chromium shows the
same in test_browser_graphiql_cors.py)."""
from __future__ import annotations

import httpx
import pytest

from podium.core.settings import Settings, SettingsError
from podium.server import graphiql
from podium.server.app import create_app
from tests import browser

PORTAL = "https://portal.example.com"
PREFLIGHT = {"Origin": PORTAL, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def client(tmp_path):
    """A client of an app made with these settings (HTTP only: no database is reached)."""
    def make(**settings) -> httpx.AsyncClient:
        app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'podium.db'}", **settings))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test")

    return make


async def test_a_listed_origin_gets_its_preflight_and_its_answer(client):
    async with client(cors_origins=(PORTAL, "http://127.0.0.1:8000")) as http:
        preflight = await http.options("/graphql", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == PORTAL
        allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert "access-control-allow-credentials" not in preflight.headers  # tokens, never cookies
        answer = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": PORTAL})
        assert answer.json() == {"data": {"__typename": "Query"}}
        assert answer.headers["access-control-allow-origin"] == PORTAL
        assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()


async def test_an_unlisted_origin_gets_no_allow_header(client):
    async with client(cors_origins=(PORTAL,)) as http:
        preflight = await http.options("/graphql", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers
        answer = await http.post("/graphql", json={"query": "{ __typename }"},
                                   headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in answer.headers


async def test_by_default_no_origin_is_allowed_and_star_allows_any(client):
    async with client() as http:
        preflight = await http.options("/graphql", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in preflight.headers
    async with client(cors_origins=("*",)) as http:
        preflight = await http.options("/graphql", headers=PREFLIGHT)
        assert preflight.headers["access-control-allow-origin"] == "*"


def test_an_origin_with_a_path_is_a_settings_error():
    settings = Settings.from_env({"PODIUM_CORS_ORIGINS": "https://portal.example.com/, http://127.0.0.1:8000"})
    assert settings.cors_origins == ("https://portal.example.com/", "http://127.0.0.1:8000")
    with pytest.raises(SettingsError, match="PODIUM_CORS_ORIGINS"):
        create_app(settings)


async def test_graphiql_loads_only_from_podium_at_pinned_versions(client):
    browser.require_graphiql_assets()
    async with client() as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "https://" not in page.text and "http://" not in page.text
        assert 'src="/graphql/static/graphiql@3.8.3/graphiql.min.js" integrity="sha384-' in page.text
        assert "/graphql/static/react@18.3.1/react.production.min.js" in page.text
        assert "script-src 'self';" in page.headers["content-security-policy"]
        script = await http.get("/graphql/static/graphiql@3.8.3/graphiql.min.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        for path in ("/graphql/static/graphiql@3.8.2/graphiql.min.js", "/graphql/static/graphiql@3.8.3/package.json",
                     "/graphql/static/graphiql@3.8.3/../../../pyproject.toml"):
            assert (await http.get(path)).status_code == 404, path


async def test_graphiql_missing_says_how_to_install_it(client, monkeypatch, tmp_path):
    monkeypatch.setattr(graphiql, "NODE_MODULES", tmp_path)
    graphiql.installed_assets.cache_clear()
    try:
        async with client() as http:
            page = await http.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 503
            assert "GraphiQL is not installed" in page.text and "npm ci --prefix" in page.text
            assert "make install" in page.text
            answer = await http.post("/graphql", json={"query": "{ __typename }"})
            assert answer.json() == {"data": {"__typename": "Query"}}
    finally:
        graphiql.installed_assets.cache_clear()


async def test_graphiql_off(client):
    async with client(graphiql=False) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404 and "GraphiQL" not in page.text
        assert (await http.get("/graphql/static/graphiql@3.8.3/graphiql.min.js")).status_code == 404
        assert Settings.from_env({"PODIUM_GRAPHIQL": "false"}).graphiql is False
