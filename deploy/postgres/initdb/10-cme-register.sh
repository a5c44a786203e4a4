#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume (docker-entrypoint-initdb.d):
# the case register's role and database, `cme`, next to Temporal's (created by temporalio/auto-setup).
# CME_DB_PASSWORD comes from docker-compose.yml. The schema itself is created by the register-schema
# service (activities.register.create_register_schema).
set -eu
: "${CME_DB_PASSWORD:?CME_DB_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=cme_password="$CME_DB_PASSWORD" <<'SQL'
CREATE ROLE cme LOGIN PASSWORD :'cme_password';
CREATE DATABASE cme OWNER cme;
REVOKE ALL ON DATABASE cme FROM PUBLIC;
SQL
