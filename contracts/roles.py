"""The roles a caller acts in: named once, here, for the tokens the gateway verifies, the routes that
admit them and the services that decide by them (the `role` of every `actor` the gateway passes on).

Pure names, no behaviour: what a role may do is decided where it is used (`chassis.audit.Actor`,
each route's `roles=`, each service's checks)."""

from typing import Final

CITIZEN: Final = "citizen"  # a resident, by their ID number
CLERK: Final = "clerk"  # bureau staff of an area (a division code)
FUNERAL_HOME: Final = "funeral_home"  # funeral-home staff: what a funeral home does, never a revocation
PARTNER: Final = "partner"  # a partner department (contracts.partners), with an organisation where it has them
ADMIN: Final = "admin"  # bureau administrators: every area
SYSTEM_ROLE: Final = "system"  # a service acting on its own (chassis.SYSTEM: a job, an event), never in a token

ROLES: Final = (CITIZEN, CLERK, FUNERAL_HOME, PARTNER, ADMIN)  # what a token may name
STAFF: Final = (CLERK, ADMIN)  # the bureau's staff
AREA_ROLES: Final = (CLERK, FUNERAL_HOME)  # scoped to the division code they serve
EMPLOYEES: Final = (CLERK, FUNERAL_HOME, ADMIN)  # staff and funeral homes: short-lived tokens
ANYONE: Final = (CITIZEN, CLERK, PARTNER, ADMIN)  # every caller of the bureau's general routes
