"""Maps the layer folders to `podium.*` import names, including every sub-package they grow.

Namespace discovery also finds folders without `__init__.py` that hold modules (the Alembic
migrations), so setuptools ships them as packages instead of warning about each one."""
import warnings

from setuptools import find_namespace_packages, setup

LAYERS = {"core": "podium.core", "schema": "podium.schema", "plugins": "podium.plugins", "plugin": "podium.plugin",
          "server": "podium.server"}

# An editable install maps the layer folders through an import finder, and setuptools notes each time
# that a folder named like the package could shadow it; no folder here is named `podium`.
warnings.filterwarnings("ignore", message="Editable installation")

setup(packages=[name for folder, prefix in LAYERS.items()
                for name in [prefix] + [f"{prefix}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]])
