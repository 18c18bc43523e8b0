"""`podium plugin new NAME --kind ...`: each kind's skeleton installs into a fresh virtual environment, is
listed by `podium plugins` there (found through its entry point), imports only `podium.plugin`, and passes
its own tests."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.plugins.test_public_api import podium_imports

KINDS = ("channel", "conferencing", "lms", "venue")


def run(python: str, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_") and k != "PYTHONPATH"}
    done = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def skeletons(tmp_path_factory):
    """A fresh venv that sees Podium as an installed dependency (this environment's packages through a
    .pth), with one skeleton of each kind pip-installed into it."""
    root = tmp_path_factory.mktemp("vendor")
    for kind in KINDS:
        run(sys.executable, "-m", "podium.server.cli", "plugin", "new", f"acme_{kind}", "--kind", kind,
            "--dir", str(root), cwd=root)
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=root)
    python = str(venv / "bin" / "python")
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip()
    Path(purelib, "podium-host.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    for kind in KINDS:
        run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
            "--no-build-isolation", "--no-index", str(root / f"podium-acme-{kind}"), cwd=root)
    return root, python


def test_every_kind_is_listed_by_podium_plugins_in_the_fresh_venv(skeletons):
    root, python = skeletons
    out = run(python, "-m", "podium.server.cli", "plugins", cwd=root).stdout
    for kind in KINDS:
        assert f"acme_{kind} 0.1.0 (entry point)" in out
        assert f"settings (PODIUM_ACME_{kind.upper()}_*, not configured)" in out
    assert "logbook" not in out, "the fresh venv sees only what was installed into it"


@pytest.mark.parametrize("kind", KINDS)
def test_each_skeleton_passes_its_own_tests_and_imports_only_the_public_api(skeletons, kind):
    root, python = skeletons
    project = root / f"podium-acme-{kind}"
    done = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert " passed" in done.stdout and "failed" not in done.stdout
    reach_ins = [(path.name, module) for path in (project / "src").rglob("*.py") for _, module in podium_imports(path)
                 if module != "podium.plugin"]
    assert reach_ins == []


def test_a_bad_name_or_kind_is_refused(tmp_path):
    for args in (["Bad-Name", "--kind", "lms"], ["acme", "--kind", "fax"]):
        done = run(sys.executable, "-m", "podium.server.cli", "plugin", "new", *args, "--dir", str(tmp_path),
                   cwd=tmp_path, check=False)
        assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert list(tmp_path.iterdir()) == []
