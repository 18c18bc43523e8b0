"""Maps the layer folders to `podium.*` import names, including every sub-package they grow.

Namespace discovery also finds folders without `__init__.py` that hold modules (the Alembic
migrations), so setuptools ships them as packages instead of warning about each one."""
from setuptools import find_namespace_packages, setup

LAYERS = {"core": "podium.core", "schema": "podium.schema", "plugins": "podium.plugins", "server": "podium.server"}

setup(packages=[name for folder, prefix in LAYERS.items()
                for name in [prefix] + [f"{prefix}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]])
