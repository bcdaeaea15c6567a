# Two commands do everything on a fresh Debian machine:
#   make demo   the main job on the embedded demo (seeded slapd + Google Directory API emulator)
#   make test   the whole test suite
#   make lint   ruff (lint and format check) and mypy on libraries/, configured in pyproject.toml
# Both install what they need first: Debian packages (as root, or through sudo), a virtualenv, pip packages.

VENV ?= .venv
PYTHON ?= python3
# make deb builds with these (dh-virtualenv: Debian 12 packages it), and checks with lintian.
DEB_BUILD_PACKAGES := dh-virtualenv debhelper dpkg-dev lintian build-essential python3.11-dev python3.11-venv libldap2-dev libsasl2-dev
APT_PACKAGES := slapd ldap-utils libldap2-dev libsasl2-dev build-essential python3-dev python3-venv chromium postgresql $(DEB_BUILD_PACKAGES)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

VERSION := $(shell sed -n 's/^__version__ = "\([^"]*\)".*/\1/p' app_google_sync/__init__.py)
DEB := dist/app-google-sync_$(VERSION)-1_$(shell dpkg --print-architecture).deb
# The changelog entry's date: the last commit's, so that two builds of one commit are alike.
DEB_DATE := $(shell date -R -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))

# Installs those of the Debian packages named in $(1) that are missing.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: setup demo test lint typecheck deb clean

setup: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml app_google_sync/__init__.py
	$(call apt_install,$(APT_PACKAGES))
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip setuptools wheel
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/google-sync demo

# Each step fails the target. mypy reads the source folder: it cannot follow the editable install's import hook.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libraries

typecheck: $(STAMP)
	$(VENV)/bin/mypy libraries

# The linters first (ruff, mypy: they are fast and name the line); pytest exits 5 when it collects no test, which is
# not a failure of the suite.
test: $(STAMP) lint
	$(VENV)/bin/pytest; status=$$?; [ $$status -eq 5 ] && status=0; exit $$status

# The Debian package: dist/app-google-sync_<version>-1_<arch>.deb, then lintian's verdict on it
# (LINTIAN=no skips it: tests/test_debian_package.py runs it beside the installation).
# The tree (the files git knows) is copied to build/deb with deploy/debian as its debian/, so the
# top level stays as it is; debian/changelog is written from the version in app_google_sync/__init__.py.
deb:
	$(call apt_install,$(DEB_BUILD_PACKAGES))
	test -n '$(VERSION)'
	rm -rf build/deb && mkdir -p build/deb/app-google-sync dist
	git ls-files -z --cached --others --exclude-standard | tar -c --null --no-recursion -T - | tar -x -C build/deb/app-google-sync
	cp -r deploy/debian build/deb/app-google-sync/debian
	printf 'app-google-sync (%s-1) unstable; urgency=medium\n\n  * Release %s (its changes: /usr/share/doc/app-google-sync/changelog.gz).\n\n -- %s  %s\n' \
		'$(VERSION)' '$(VERSION)' "$$(sed -n 's/^Maintainer: //p' deploy/debian/control)" '$(DEB_DATE)' > build/deb/app-google-sync/debian/changelog
	# The versions the tests ran with, when make setup made the test virtualenv.
	[ ! -x $(VENV)/bin/pip ] || $(VENV)/bin/pip freeze --exclude-editable > build/deb/app-google-sync/constraints.txt
	cd build/deb/app-google-sync && dpkg-buildpackage -us -uc -b
	cp build/deb/$(notdir $(DEB)) dist/
	@echo "Built $(DEB) ($$(du -h $(DEB) | cut -f1))"
	[ "$(LINTIAN)" = no ] || lintian --fail-on error,warning $(DEB)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache test-artifacts
