"""Deployment files: systemd unit, example configuration, LDIF for slapd."""
