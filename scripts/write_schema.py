"""Regenerate engine/map/schema/journey-map.schema.json from the document models.

Run after changing engine/map/document.py: ``python scripts/write_schema.py``. A unit test fails while
the shipped schema and the models disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.map import json_schema

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "engine" / "map" / "schema" / "journey-map.schema.json"


def render_schema() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
