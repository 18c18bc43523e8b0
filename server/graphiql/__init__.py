"""GraphiQL served by Podium itself: its scripts and styles come from /graphql/static/, never from a CDN.

The third-party files (GraphiQL, React) are fetched from the npm registry by `make install`
(`npm ci` against the committed package-lock.json, which pins every version with its integrity
hash) into the Python environment (`<prefix>/share/podium-graphiql/`), never into the source tree.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

HERE = Path(__file__).parent
INSTALL_DIR = Path(sys.prefix) / "share" / "podium-graphiql"  # beside the environment Podium runs in
NODE_MODULES = INSTALL_DIR / "node_modules"
INSTALL_COMMAND = (f"mkdir -p {INSTALL_DIR} && cp {HERE}/package.json {HERE}/package-lock.json {INSTALL_DIR}/ && "
                   f"npm ci --prefix {INSTALL_DIR} --ignore-scripts --no-audit --no-fund")

# name served under /graphql/static/<package>@<version>/ -> (package, file inside it)
ASSETS = {
    "react.production.min.js": ("react", "umd/react.production.min.js"),
    "react-dom.production.min.js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql.min.js": ("graphiql", "graphiql.min.js"),
    "graphiql.min.css": ("graphiql", "graphiql.min.css"),
}
OWN_SCRIPT = HERE / "start.js"  # ours, committed: wires GraphiQL to /graphql
# The browser itself refuses anything from another host; GraphiQL sets inline styles and data: icons.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class Asset:
    url: str
    path: Path
    integrity: str  # Subresource Integrity: the browser refuses a file that differs


def _integrity(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


@functools.lru_cache(maxsize=1)
def installed_assets() -> dict[str, Asset] | None:
    """The assets by name, with their versioned URLs; None when `npm ci` has not been run."""
    found: dict[str, Asset] = {}
    for name, (package, inside) in ASSETS.items():
        path, manifest = NODE_MODULES / package / inside, NODE_MODULES / package / "package.json"
        if not path.is_file() or not manifest.is_file():
            return None
        version = json.loads(manifest.read_text())["version"]
        found[name] = Asset(f"/graphql/static/{package}@{version}/{name}", path, _integrity(path))
    found["start.js"] = Asset("/graphql/static/podium/start.js", OWN_SCRIPT, _integrity(OWN_SCRIPT))
    return found


def graphiql_page() -> Response:
    """The page, or (assets missing) a page saying how to install them."""
    assets = installed_assets()
    if assets is None:
        return HTMLResponse(_MISSING.format(command=html.escape(INSTALL_COMMAND)), status_code=503)
    def script(name: str) -> str:
        return f'<script src="{assets[name].url}" integrity="{assets[name].integrity}"></script>'

    css = assets["graphiql.min.css"]
    return HTMLResponse(_PAGE.format(
        css=f'<link rel="stylesheet" href="{css.url}" integrity="{css.integrity}">',
        scripts="\n  ".join(script(n) for n in ("react.production.min.js", "react-dom.production.min.js",
                                                 "graphiql.min.js", "start.js"))),
        headers={"Content-Security-Policy": POLICY})


async def static_asset(request: Request) -> Response:
    """GET /graphql/static/<package>@<version>/<name>: only the files listed, at the installed version."""
    assets = installed_assets() or {}
    for asset in assets.values():
        if asset.url == request.url.path:
            return FileResponse(asset.path, headers={"Cache-Control": "public, max-age=86400"})
    return PlainTextResponse("Not found.", status_code=404)


_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Podium GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  {css}
  <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  {scripts}
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL is not installed</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 2em auto">
<h1>GraphiQL is not installed</h1>
<p>Podium serves GraphiQL's scripts itself, and they are not on this machine yet.
Install them from the npm registry (versions pinned by the package-lock.json there):</p>
<pre>{command}</pre>
<p>or run <code>make install</code> in a checkout, then restart Podium.
The API itself works without them: POST GraphQL requests to this address.
Set <code>PODIUM_GRAPHIQL=false</code> to turn this page off.</p>
</body></html>
"""
