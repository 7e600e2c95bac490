#!/usr/bin/env bash
# Set everything up, migrate and seed the database, and start Journey Builder with the engine inside it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

step "migrating the database"
journey db upgrade
step "storing the starter journeys"
journey seed

# Living numbers for a first look: the cart abandonment starter with its waits 60 times shorter, live, fed
# below with simulated customers arriving at the same pace, a simulated hour per real minute (engine/simulation/demo.py,
# engine/simulation/planner.py).
DEMO_CUSTOMERS="${JOURNEY_DEMO_CUSTOMERS:-300}"
DEMO_JOURNEY=""
if [ "$DEMO_CUSTOMERS" != 0 ]; then
  step "launching the demo journey"
  DEMO_JOURNEY="$(journey demo --speed 60)" || DEMO_JOURNEY=""
fi

# Reload the backend when code changes, not when the engine writes the SQLite file beside it (its -shm and
# -wal files change on every tick, and Reflex would otherwise restart the backend again and again).
export REFLEX_HOT_RELOAD_OVERRIDE_PATHS="${REFLEX_HOT_RELOAD_OVERRIDE_PATHS:-$ROOT/journey_builder:$ROOT/engine}"

FRONTEND_PORT="${FRONTEND_PORT:-3000}"
BACKEND_PORT="${BACKEND_PORT:-8000}"
step "starting Journey Builder"
echo "    app:  http://localhost:$FRONTEND_PORT/"
echo "    API:  http://localhost:$BACKEND_PORT/api/docs   (event intake: http://localhost:$BACKEND_PORT/v1/track)"
if [ -n "$DEMO_JOURNEY" ]; then
  # In the background, waiting for the backend; Ctrl-C on this terminal stops it with the app.
  echo "    demo: $DEMO_CUSTOMERS simulated customers enter journey $DEMO_JOURNEY over 10 minutes (log: simulate.log)"
  journey simulate "$DEMO_JOURNEY" --customers "$DEMO_CUSTOMERS" --speed 60 --over PT10H \
    --base-url "http://localhost:$BACKEND_PORT" --wait-for-intake 900 --write-key-file "$ROOT/.journey_simulator_key" \
    >"$ROOT/simulate.log" 2>&1 &
fi
exec reflex run --frontend-port "$FRONTEND_PORT" --backend-port "$BACKEND_PORT"
