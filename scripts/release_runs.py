"""What the scripts that time the release build share: where the binary is, and how a result table is published
(printed, and written with the raw rows to bench/results/NAME.{md,json})."""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, ".build", "release", "shardtrain")


def require_binary():
    if not os.path.exists(BINARY):
        sys.exit(f"build first: swift build -c release --product shardtrain ({BINARY} is missing)")


def publish(name, note, table, rows):
    """Prints the Markdown `table` (a list of lines) and writes it under `note` to bench/results/NAME.md, and `rows`
    to bench/results/NAME.json."""
    text = "\n".join(table)
    print(text)
    results = os.path.join(ROOT, "bench", "results")
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, f"{name}.md"), "w") as out:
        out.write(f"{note}\n\n{text}\n")
    with open(os.path.join(results, f"{name}.json"), "w") as out:
        json.dump(rows, out, indent=2)
