#!/bin/sh
# One role and one database per service, each role let into its own only (the compose
# deployment's PostgreSQL, at its first start: docker-entrypoint-initdb.d). Passwords come from
# the environment.
set -eu
for name in marriage assistance care charity funeral gateway; do
    var=$(echo "$name" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD
    eval "password=\${$var}"
    psql -v ON_ERROR_STOP=1 -v name="$name" -v db="tongban_$name" -v password="$password" --username postgres <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"name";
REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
SQL
done
