"""The migration a user would write without Keep: scripts/migrations/0001_rename_map_view.lua
done with Python's sqlite3 and json modules, in batches of 500 committed as they go, writing
canonical JSON (sorted keys, 2-space indent, as Keep stores it), the new SHA-256 and version + 1.
It keeps no backup, no checkpoint and no lock: Keep does all three and must still be faster.
Usage: python3 scripts/bench/migrate_rename.py DATABASE"""
import hashlib
import json
import sqlite3
import sys

BATCH = 500


def canonical(value):
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, separators=(",", ": "))


def rename(data):
    changed = False
    for dashboard in data.get("dashboards") or []:
        for module in dashboard.get("modules") or []:
            if module.get("kind") == "MapView":
                module["kind"] = "GeoMap"
                if module["id"].startswith("MapView-"):
                    module["id"] = "GeoMap-" + module["id"][len("MapView-"):]
                changed = True
    return changed


def main(path):
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    last, scanned, changed = "", 0, 0
    while True:
        rows = connection.execute(
            "SELECT id, content FROM sessions WHERE id > ? ORDER BY id LIMIT ?", (last, BATCH)).fetchall()
        if not rows:
            break
        updates = []
        for identifier, content in rows:
            data = json.loads(content)
            if rename(data):
                text = canonical(data)
                updates.append((text, hashlib.sha256(text.encode()).hexdigest(), identifier))
        connection.executemany(
            "UPDATE sessions SET content = ?, hash = ?, version = version + 1 WHERE id = ?", updates)
        connection.commit()
        scanned += len(rows)
        changed += len(updates)
        last = rows[-1][0]
    print(f"scanned {scanned}, changed {changed}")


if __name__ == "__main__":
    main(sys.argv[1])
