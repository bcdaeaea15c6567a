"""Which packages the distributions carry; everything else is in setup.cfg.

The product's folders sit at the top level (app_google_sync/, controllers/, libraries/, views/,
deploy/: DESIGN §3) but install under one namespace, app_google_sync.*. setup.cfg cannot find
sub-packages below such a mapping, so they are found here: a new sub-package (a folder with an
__init__.py) under any root is carried by the wheel without being listed anywhere.
"""

from setuptools import find_packages, setup

# Installed name -> folder in the source tree.
ROOTS = {
    "app_google_sync": "app_google_sync",
    "app_google_sync.controllers": "controllers",
    "app_google_sync.libraries": "libraries",
    "app_google_sync.views": "views",
    "app_google_sync.deploy": "deploy",
}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found.extend(f"{name}.{sub}" for sub in find_packages(where=folder) if f"{name}.{sub}" not in ROOTS)
    return found


setup(packages=packages(), package_dir=ROOTS)
