#!/bin/sh
# One database per service, owned by the service's role (the migrations connect as it), and a
# second role its processes connect as, owning nothing: each migration grants it what a service
# needs, the audit only to read and append to (chassis.migrations.grant_service_role). Each role
# is let into its own database only (the compose deployment's PostgreSQL, at its first start:
# docker-entrypoint-initdb.d). Passwords come from the environment.
set -eu
for name in marriage assistance care charity funeral gateway; do
    var=$(echo "$name" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD
    eval "password=\${$var}"
    service_var=$(echo "$name" | tr '[:lower:]' '[:upper:]')_DB_SERVICE_PASSWORD
    eval "service_password=\${$service_var}"
    psql -v ON_ERROR_STOP=1 -v name="$name" -v service="${name}_service" -v db="tongban_$name" \
        -v password="$password" -v service_password="$service_password" --username postgres <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE ROLE :"service" LOGIN PASSWORD :'service_password';
CREATE DATABASE :"db" OWNER :"name";
REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"service";
SQL
done
