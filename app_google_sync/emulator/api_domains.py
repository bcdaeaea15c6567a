"""domains.list: the account's primary and secondary domains, each with its domain aliases."""

from . import resources
from .routing import route


@route("GET", "customer/{customer}/domains", "domain", schema="Domains2")
def list_domains(req):
    directory = req.directory
    directory.check_customer(req.params["customer"])
    items = [resources.domain(name, directory) for name in directory.domains]
    return 200, resources.listing("admin#directory#domains", "domains", items)
