#!/usr/bin/env bash
# Set everything up, migrate and seed the database, and start Journey Builder with the engine inside it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

step "migrating the database"
journey db upgrade
step "storing the starter journeys"
journey seed

# Reload the backend when code changes, not when the engine writes the SQLite file beside it (its -shm and
# -wal files change on every tick, and Reflex would otherwise restart the backend again and again).
export REFLEX_HOT_RELOAD_OVERRIDE_PATHS="${REFLEX_HOT_RELOAD_OVERRIDE_PATHS:-$ROOT/journey_builder:$ROOT/engine}"

FRONTEND_PORT="${FRONTEND_PORT:-3000}"
BACKEND_PORT="${BACKEND_PORT:-8000}"
step "starting Journey Builder"
echo "    app:  http://localhost:$FRONTEND_PORT/"
echo "    API:  http://localhost:$BACKEND_PORT/api/docs   (event intake: http://localhost:$BACKEND_PORT/v1/track)"
exec reflex run --frontend-port "$FRONTEND_PORT" --backend-port "$BACKEND_PORT"
