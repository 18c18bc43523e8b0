"""Maps the layer folders to `podium.*` import names, including every sub-package they grow."""
from setuptools import find_packages, setup

LAYERS = {"core": "podium.core", "schema": "podium.schema", "plugins": "podium.plugins", "server": "podium.server"}

setup(packages=[name for folder, prefix in LAYERS.items()
                for name in [prefix] + [f"{prefix}.{sub}" for sub in find_packages(folder)]])
