#!/usr/bin/env sh
# Creates the three compose meters: their XMPP accounts in the Prosody container (with the
# passwords from .env) and their registry entries in the presence service.
set -eu
. ./.env
i=1
for password in "$GP_METER_1_PASSWORD" "$GP_METER_2_PASSWORD" "$GP_METER_3_PASSWORD"; do
  id="mtr-000$i"
  docker compose exec -T prosody prosodyctl register "$id" grid.example "$password"
  docker compose run --rm -T presence-service dist/presence-service/cli.js meters add "$id" --group feeder-1
  i=$((i + 1))
done
