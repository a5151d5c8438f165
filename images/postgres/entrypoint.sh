#!/bin/bash
# Start PostgreSQL; on first start (empty data folder) create the cluster, the role
# $POSTGRES_USER with $POSTGRES_PASSWORD, and one database per name in
# $POSTGRES_MULTIPLE_DATABASES (space separated), owned by that role.
set -euo pipefail
: "${POSTGRES_USER:=coursehub}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (see images/compose/.env.example)}"
: "${POSTGRES_MULTIPLE_DATABASES:=jupyterhub grader}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    initdb --username=postgres --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 -D "$PGDATA" >/dev/null
    # other containers on the compose network connect with a password; nothing else
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 --username=postgres -d postgres -q \
        -v user="$POSTGRES_USER" -v pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'pw';
SQL
    for db in $POSTGRES_MULTIPLE_DATABASES; do
        psql -v ON_ERROR_STOP=1 --username=postgres -d postgres -q \
            -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "coursehub-postgres: cluster created with databases: $POSTGRES_MULTIPLE_DATABASES"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
