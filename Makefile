# Two commands do everything on a fresh Debian machine:
#   make demo   the main job on the embedded demo (seeded slapd + Google Directory API emulator)
#   make test   the whole test suite
# Both install what they need first: Debian packages (as root, or through sudo), a virtualenv, pip packages.

VENV ?= .venv
PYTHON ?= python3
APT_PACKAGES := slapd ldap-utils libldap2-dev libsasl2-dev build-essential python3-dev python3-venv chromium postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: setup demo test clean

setup: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml app_google_sync/__init__.py
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip setuptools wheel
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/google-sync demo

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: $(STAMP)
	$(VENV)/bin/pytest; status=$$?; [ $$status -eq 5 ] && status=0; exit $$status

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache test-artifacts
