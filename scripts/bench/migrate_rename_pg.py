"""scripts/bench/migrate_rename.py on PostgreSQL: the migration a user would write without Keep,
scripts/migrations/0001_rename_map_view.lua done with psycopg 3 and Python's json module, in
batches of 500 committed as they go, writing canonical JSON (as Keep stores it: the bytes of
sorted keys, 2-space indent), the new SHA-256 and version + 1 into Keep's own `sessions` table
(documents are bytea there). Each batch's updates go in one pipeline (psycopg's executemany).
It keeps no backup, no checkpoint and no lock: Keep does all three and must still be faster.
Usage: python3 scripts/bench/migrate_rename_pg.py URL SCHEMA"""
import hashlib
import json
import sys

import psycopg
from psycopg import sql

from migrate_rename import BATCH, canonical, rename


def main(url, schema):
    sessions = sql.Identifier(schema, "sessions")
    select = sql.SQL("SELECT owner, id, content FROM {} WHERE id > %s ORDER BY id LIMIT %s").format(sessions)
    update = sql.SQL(
        "UPDATE {} SET content = %s, hash = %s, version = version + 1 WHERE owner = %s AND id = %s").format(sessions)
    last, scanned, changed = "", 0, 0
    with psycopg.connect(url, autocommit=True) as connection:
        while True:
            with connection.transaction():
                rows = connection.execute(select, (last, BATCH)).fetchall()
                if not rows:
                    break
                updates = []
                for owner, identifier, content in rows:
                    data = json.loads(content)
                    if rename(data):
                        text = canonical(data).encode()
                        updates.append((text, hashlib.sha256(text).hexdigest(), owner, identifier))
                with connection.cursor() as cursor:
                    cursor.executemany(update, updates)
            scanned += len(rows)
            changed += len(updates)
            last = rows[-1][1]
    print(f"scanned {scanned}, changed {changed}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
