"""Attribute mapping (which Google fields the directory fills) and organizational units."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from app_google_sync.libraries.core.errors import ConfigError
from app_google_sync.libraries.settings import config_file

from .blueprint import SCOPE_NOTE, blueprint, console, flash, load_settings, raw_config


def render_attributes(mappings=None, units=None, errors=None, status=200, domains=None, licenses=None):
    parser = raw_config()
    page = render_template(
        "google_sync/attributes.html",
        mappings=mappings or config_file.attribute_mappings(parser),
        units=units or config_file.org_units(parser),
        domains=domains or config_file.domains(parser),
        licenses=licenses or config_file.licenses(parser),
        offered=(offered := _offered_fields()),
        custom=_custom_rows(parser, offered[0]),
        primary_domain=config_file.value(parser, "google", "domain"),
        errors=errors or {},
        saved=request.args.get("saved") == "1",
    )
    return page, status


@blueprint.get("/attributes")
def attributes():
    return render_attributes()


@blueprint.post("/attributes")
def save_attributes():
    values, errors, shown = {}, {}, []
    for mapping in config_file.attribute_mappings(raw_config()):
        switched_on = request.form.get(f"on_{mapping.key}") == "yes"
        typed = request.form.get(f"attr_{mapping.key}", "")
        values[mapping.key] = ""
        if switched_on:
            try:
                values[mapping.key] = config_file.check_attribute(mapping.key, typed)
            except ConfigError as error:
                errors[mapping.key] = str(error)
        shown.append(
            config_file.FieldMapping(
                mapping.key, mapping.label, mapping.google_field, mapping.default, typed.strip() if switched_on else ""
            )
        )
    if errors:
        return render_attributes(mappings=shown, errors=errors, status=400)
    config_file.save_attributes(console().config_path, values)
    off = [mapping.label for mapping in shown if not values[mapping.key]]
    flash(
        "Attribute mapping saved." + (f" Switched off, never touched in Google: {', '.join(off)}." if off else ""),
        "success",
    )
    return redirect(url_for(".attributes", saved=1))


@blueprint.post("/attributes/org-units")
def save_org_units():
    form = request.form
    before = config_file.org_units(raw_config())
    try:
        units = config_file.check_org_units(
            form.get("org_units", ""), form.get("org_unit_attribute", ""), form.get("org_unit_root", "/")
        )
    except ConfigError as error:
        typed = config_file.OrgUnits(
            form.get("org_units", ""), form.get("org_unit_attribute", ""), form.get("org_unit_root", "/")
        )
        return render_attributes(units=typed, errors={"org_units": str(error)}, status=400)
    config_file.save_org_units(console().config_path, units)
    if units.setting:
        flash(f"Organizational units saved: users go under {units.root}.", "success")
        if not before.setting:
            flash(SCOPE_NOTE.format(feature="Organizational units", scope="admin.directory.orgunit"), "warning")
    else:
        flash("Organizational units are off: users stay where they are in Google.", "success")
    return redirect(url_for(".attributes", saved=1))


@blueprint.post("/attributes/domains")
def save_domains():
    form = request.form
    parser = raw_config()
    before = config_file.domains(parser)
    try:
        chosen = config_file.check_domains(
            form.get("domains", ""), form.get("default_domain", ""), config_file.value(parser, "google", "domain")
        )
    except ConfigError as error:
        typed = config_file.Domains(form.get("domains", ""), form.get("default_domain", ""))
        return render_attributes(domains=typed, errors={"domains": str(error)}, status=400)
    config_file.save_domains(console().config_path, chosen)
    if not chosen.others:
        flash("Domains saved: only the primary domain is synchronized.", "success")
    else:
        flash(
            f"Domains saved: {'every domain Google lists' if chosen.from_google else chosen.others} besides the primary one.",
            "success",
        )
    if chosen.from_google and not before.from_google:
        flash(SCOPE_NOTE.format(feature="Domains read from Google", scope="admin.directory.domain.readonly"), "warning")
    return redirect(url_for(".attributes", saved=1, _anchor="domains"))


def _offered_fields():
    """(the account's custom fields, why they cannot be listed): read from Google each time the page is shown."""
    from app_google_sync.libraries.google.google_target import offered_custom_fields  # noqa: PLC0415  (pulls in the Google client)

    settings, problem = load_settings()
    return offered_custom_fields(settings) if settings else ((), problem)


def _custom_rows(parser, offered):
    """(key as configured, LDAP attribute, the Google field it names or None) for each mapped custom field."""
    by_key = {spec.key.lower(): spec for spec in offered}
    return [(key, attribute, by_key.get(key)) for key, attribute in config_file.custom_attributes(parser)]


@blueprint.post("/attributes/custom")
def save_custom_attribute():
    form = request.form
    path = console().config_path
    if form.get("remove"):
        config_file.save_custom_attribute(path, form["remove"], None)
        flash(f"{form['remove']} is no longer synchronized; Google keeps its values.", "success")
        return redirect(url_for(".attributes", saved=1, _anchor="custom"))
    first = not config_file.custom_attributes(raw_config())
    try:
        key, attribute = config_file.check_custom_attribute(form.get("field", ""), form.get("attribute", ""))
    except ConfigError as error:
        return render_attributes(errors={"custom": str(error)}, status=400)
    config_file.save_custom_attribute(path, key, attribute)
    flash(f"{key} is filled from {attribute}.", "success")
    if first:
        flash(SCOPE_NOTE.format(feature="Custom attributes", scope="admin.directory.userschema.readonly"), "warning")
    return redirect(url_for(".attributes", saved=1, _anchor="custom"))


@blueprint.post("/attributes/licenses")
def save_licenses():
    form = request.form
    before = config_file.licenses(raw_config())
    release = form.get("release_on_suspend") == "yes"
    try:
        chosen = config_file.check_licenses(form.get("product", ""), form.get("sku", ""), release)
    except ConfigError as error:
        typed = config_file.Licenses(form.get("product", ""), form.get("sku", ""), release)
        return render_attributes(licenses=typed, errors={"licenses": str(error)}, status=400)
    config_file.save_licenses(console().config_path, chosen)
    if chosen.product:
        flash(
            f"Licences saved: new and unsuspended users get {chosen.product} {chosen.sku}"
            + ("; suspended users give theirs back." if chosen.release_on_suspend else "."),
            "success",
        )
        if not before.product:
            flash(SCOPE_NOTE.format(feature="Licences", scope="apps.licensing"), "warning")
    else:
        flash("Licences are off: Google's assignments are left as they are.", "success")
    return redirect(url_for(".attributes", saved=1, _anchor="licenses"))
