"""The HTTP benchmark's anchor (scripts/bench.sh http, http-large): three of
Keep's session routes written as the reference system would, FastAPI with
`async def` endpoints on uvicorn (uvloop, httptools), over Keep's own SQLite
file and `sessions` table, with Keep's SQL and Keep's answers (SPEC §8).

    KEEP_BENCH_DB=keep.sqlite KEEP_BENCH_TOKENS=tokens \
      python3 -m uvicorn --app-dir scripts/bench fastapi_sessions:app \
        --host 127.0.0.1 --port 8000 --workers 2 --loop uvloop --http httptools

Same work per request as `keep serve`: a bearer token checked by its SHA-256
digest in constant time against every token of the file (lines TOKEN USER),
the session read by id and owner, and for PUT the reference's limits checked,
the SHA-256 of the content, then one UPDATE conditional on the version read
(applied again on top of a concurrent writer, up to 16 times). The same
SQLite settings as Keep: WAL, synchronous NORMAL, a 256 MiB memory map.
"""

import hashlib
import hmac
import json
import os
import sqlite3
import time
from datetime import datetime, timezone

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

COLUMNS = "id, owner, title, description, content, hash, version, created_at, updated_at"
MAX_CONTENT_BYTES = 1572864
MAX_TITLE_CHARACTERS = 50
MAX_DESCRIPTION_CHARACTERS = 250
UPDATE_ATTEMPTS = 16


def load_tokens(path):
    tokens = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            token, user = line.split(None, 1)
            tokens.append((hashlib.sha256(token.encode()).digest(), user.strip()))
    return tokens


TOKENS = load_tokens(os.environ["KEEP_BENCH_TOKENS"])
# One connection per worker process; the endpoints run on its one event loop.
db = sqlite3.connect(os.environ["KEEP_BENCH_DB"], isolation_level=None, check_same_thread=False)
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = NORMAL")
db.execute("PRAGMA busy_timeout = 5000")
db.execute("PRAGMA mmap_size = 268435456")

app = FastAPI()


def error(status, kind, message, headers=None):
    return JSONResponse({"error": {"type": kind, "message": message, "details": {}}}, status_code=status, headers=headers)


def acting_user(request):
    header = request.headers.get("authorization", "")
    if header.startswith("Bearer "):
        digest = hashlib.sha256(header[7:].encode()).digest()
        user = None
        for known, owner in TOKENS:
            if hmac.compare_digest(digest, known) and user is None:
                user = owner
        return user
    return None


def iso(milliseconds):
    moment = datetime.fromtimestamp(milliseconds // 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{milliseconds % 1000:03d}Z"


def metadata(row):
    return {"id": row[0], "ownerId": row[1], "title": row[2], "description": row[3], "createdAt": iso(row[7]),
            "updatedAt": iso(row[8]), "version": row[6], "contentHash": row[5]}


def read(session_id, owner):
    return db.execute(f"SELECT {COLUMNS} FROM sessions WHERE id = ? AND owner = ?", (session_id, owner)).fetchone()


def unauthorized():
    return error(401, "unauthorized", "a bearer token is required", {"WWW-Authenticate": "Bearer"})


def not_found(session_id):
    return error(404, "not_found", f"session {session_id} not found")


def owned_row(session_id, request):
    """The session's row and None, or None and the answer that says why there is none."""
    owner = acting_user(request)
    if owner is None:
        return None, unauthorized()
    row = read(session_id, owner)
    return (row, None) if row is not None else (None, not_found(session_id))


@app.get("/api/persistence/sessions/metadata/{session_id}")
async def get_session_metadata(session_id: str, request: Request):
    row, refusal = owned_row(session_id, request)
    return refusal or JSONResponse(metadata(row), headers={"ETag": f'"{row[6]}"'})


@app.get("/api/persistence/sessions/{session_id}")
async def get_session(session_id: str, request: Request):
    row, refusal = owned_row(session_id, request)
    return refusal or JSONResponse({"metadata": metadata(row), "content": row[4]}, headers={"ETag": f'"{row[6]}"'})


@app.put("/api/persistence/sessions/{session_id}")
async def update_session(session_id: str, request: Request):
    owner = acting_user(request)
    if owner is None:
        return unauthorized()
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error(400, "invalid", "the body is not JSON")
    if not isinstance(body, dict):
        return error(422, "invalid", "the body is not an object")
    for field in ("title", "content"):
        if field in body and not isinstance(body[field], str):
            return error(422, "invalid", f"{field} must be a string")
    if "description" in body and body["description"] is not None and not isinstance(body["description"], str):
        return error(422, "invalid", "description must be a string or null")
    now = int(time.time() * 1000)
    for _ in range(UPDATE_ATTEMPTS):
        row = read(session_id, owner)
        if row is None:
            return not_found(session_id)
        title = body.get("title", row[2])
        description = body["description"] if "description" in body else row[3]
        content, content_hash = row[4], row[5]
        if "content" in body:
            content = body["content"]
            content_hash = hashlib.sha256(content.encode()).hexdigest()
        # The reference's limits (Keep's scripts/policies/validation.lua).
        if len(content.encode()) > MAX_CONTENT_BYTES:
            return error(413, "too_large", "content is over 1.50 MiB")
        title = title.strip()
        if not 1 <= len(title) <= MAX_TITLE_CHARACTERS:
            return error(422, "policy", f"title must have 1 to {MAX_TITLE_CHARACTERS} characters")
        if description is not None and len(description) > MAX_DESCRIPTION_CHARACTERS:
            return error(422, "policy", f"description is over {MAX_DESCRIPTION_CHARACTERS} characters")
        version, updated_at = row[6] + 1, max(now, row[8])
        written = db.execute(
            """UPDATE sessions SET title = ?, title_key = ?, description = ?, content = ?, hash = ?,
                 version = ?, updated_at = ?
               WHERE id = ? AND owner = ? AND version = ?""",
            (title, title.lower(), description, content, content_hash, version, updated_at, session_id, owner, row[6]),
        ).rowcount
        if written:
            stored = (session_id, owner, title, description, content, content_hash, version, row[7], updated_at)
            return JSONResponse({"metadata": metadata(stored), "content": content}, headers={"ETag": f'"{version}"'})
    return error(409, "conflict", f"session {session_id} changed {UPDATE_ATTEMPTS} times while this update was being applied")
