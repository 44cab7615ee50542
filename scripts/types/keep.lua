---@meta
-- LuaCATS type stubs for Keep's Lua API (SPEC §3, §4), for lua-language-server.
-- Declarations only: nothing here runs.

---@class keep.Error
---@field code "invalid"|"not_found"|"forbidden"|"conflict"|"too_large"|"policy"|"limit"|"interrupted"|"unavailable"|"internal"
---@field message string
---@field details table<string, string>?
---@field where string? "chunk:line:" of the call that failed

---@class keep.Session
---@field id string
---@field owner string
---@field title string
---@field description string?
---@field content string
---@field hash string SHA-256 of content, lowercase hex
---@field version integer
---@field created_at string ISO-8601 UTC
---@field updated_at string ISO-8601 UTC
local Session = {}
---@return any data the decoded content
function Session:data() end
---@param changes keep.SessionChanges
---@return keep.Session self
function Session:update(changes) end
function Session:delete() end
--- Snapshots what this object holds; `conflict` when the session was updated since it was read.
---@param options {title: string?, description: string?}?
---@return keep.Snapshot
function Session:snapshot(options) end

---@class keep.Snapshot
---@field id string
---@field owner string
---@field title string
---@field description string?
---@field content string
---@field hash string
---@field created_at string
local Snapshot = {}
---@return any
function Snapshot:data() end
function Snapshot:delete() end
---@param options {title: string?, description: string?}?
---@return keep.Session
function Snapshot:to_session(options) end

---@class keep.NewDocument
---@field title string
---@field description string?
---@field content string|table required; a table is stored as canonical JSON

---@class keep.SessionChanges
---@field title string?
---@field description string|userdata? json.null clears it
---@field content string|table?
---@field expected_version integer?

---@class keep.ListOptions
---@field sort_by string?
---@field direction "asc"|"desc"?
---@field page_size integer?
---@field page_token string?
---@field title_contains string?
---@field created_from string?
---@field created_to string?
---@field updated_from string?
---@field updated_to string?

---@class keep.VisitListOptions: keep.ListOptions
---@field last_visited_from string?
---@field last_visited_to string?
---@field owner string?
---@field deleted boolean?

---@class keep.Page<T>: { items: T[], next_token: string? }

---@class keep.AccessLog
---@field snapshot_id string
---@field snapshot_owner string
---@field visits integer
---@field first_visited_at string
---@field last_visited_at string
---@field snapshot_deleted boolean
---@field snapshot_deleted_at string?
---@field snapshot {title: string, description: string?, created_at: string, hash: string}

---@class keep.Job
---@field id integer
---@field kind string
---@field state "pending"|"running"|"done"|"dead"
---@field attempts integer
---@field next_run_at string
---@field payload string
---@field last_error string?

---@alias keep.ActivityState "active"|"visible"|"hidden"

---@class keep.WorkingCopy
---@field id string? the session's id; nil for a new copy never saved
---@field copy_id string names the copy in the recovery journal
---@field owner string
---@field title string editable
---@field description string? editable; nil or json.null clears
---@field content string read-only; change it with set or edit
---@field has_changes boolean
---@field out_of_sync boolean the store moved past the base, or the session was deleted
---@field deleted boolean
---@field base_version integer?
---@field backend_version integer?
---@field last_modified string?
---@field last_persisted string?
---@field saving boolean
---@field closed boolean
local WorkingCopy = {}
---@param content string|table
---@return keep.WorkingCopy
function WorkingCopy:set(content) end
---@param fn fun(data: any): any change data in place, or return a replacement
---@return keep.WorkingCopy
function WorkingCopy:edit(fn) end
---@return any
function WorkingCopy:data() end
---@alias keep.ConflictChoice "reject"|"overwrite"|"fork"|"merge"

---@param options {on_conflict: keep.ConflictChoice?, fallback: keep.ConflictChoice?}? this save only, instead of save.lua's on_conflict (fallback: merge's, when edits overlap)
---@return "saved"|"no_changes"|"in_progress" result
---@return ("created"|"updated"|"overwrote"|"forked"|"merged")? how
function WorkingCopy:save(options) end
---@return string? diff what a save would change in the stored session (title, description, canonical JSON lines); nil when nothing
function WorkingCopy:diff() end
---@param options {title: string?, description: string?}?
---@return "saved"
function WorkingCopy:save_as(options) end
---@return boolean out_of_sync
function WorkingCopy:poll() end
---@param options {discard: boolean?}?
---@return keep.WorkingCopy
function WorkingCopy:reload(options) end
---@param options {title: string?, description: string?}?
---@return keep.Snapshot
function WorkingCopy:snapshot(options) end
---@param options {discard: boolean?}?
---@return "closed"|"kept"|"discarded"
function WorkingCopy:close(options) end

---@class keep.RecoveryEntry
---@field copy_id string
---@field session_id string?
---@field title string
---@field description string?
---@field modified_at string
---@field bytes integer
---@field base_version integer?
---@field pid integer the process that journaled it
---@field running boolean another process has the copy open now (recover refuses it)

---@class keep.ActivitySubscription
---@field cancelled boolean
local ActivitySubscription = {}
function ActivitySubscription:cancel() end

---@class keep
---@field user string the acting user
keep = {}

---@return string now ISO-8601 UTC with milliseconds
function keep.now() end

---@param user string a user id: 1 to 128 bytes of UTF-8 after NFC normalization, no control characters, no white space at either end
---@param fn fun(...): ...
---@return ...
function keep.as(user, fn, ...) end

keep.sessions = {}
---@param document keep.NewDocument
---@return keep.Session
function keep.sessions.create(document) end
---@param id string|keep.Session
---@return keep.Session
function keep.sessions.get(id) end
---@param id string|keep.Session
---@param changes keep.SessionChanges
---@return keep.Session
function keep.sessions.update(id, changes) end
---@param id string|keep.Session
function keep.sessions.delete(id) end
---@param options keep.ListOptions?
---@return keep.Page<keep.Session>
function keep.sessions.list(options) end
---@param options keep.ListOptions?
---@return fun(): keep.Session?
function keep.sessions.each(options) end

keep.snapshots = {}
---@param document keep.NewDocument
---@return keep.Snapshot
function keep.snapshots.create(document) end
---@param id string|keep.Snapshot
---@return keep.Snapshot
function keep.snapshots.get(id) end
---@param options keep.ListOptions?
---@return keep.Page<keep.Snapshot>
function keep.snapshots.list(options) end
---@param id string|keep.Snapshot
function keep.snapshots.delete(id) end

keep.visits = {}
---@param options keep.VisitListOptions?
---@return keep.Page<keep.AccessLog>
function keep.visits.list(options) end
---@param snapshot_id string
function keep.visits.remove(snapshot_id) end

keep.jobs = {}
---@param options {state: "pending"|"running"|"done"|"dead"?}?
---@return keep.Job[]
function keep.jobs.list(options) end
---@return keep.Job[]
function keep.jobs.run() end
---@param id integer
---@return keep.Job
function keep.jobs.retry(id) end

keep.workbench = {}
---@param id string|keep.Session
---@return keep.WorkingCopy
function keep.workbench.open(id) end
---@param document keep.NewDocument
---@return keep.WorkingCopy
function keep.workbench.new(document) end
---@return keep.RecoveryEntry[]
function keep.workbench.recoverable() end
---@param entry keep.RecoveryEntry|string an entry or its copy_id
---@return keep.WorkingCopy
function keep.workbench.recover(entry) end
---@param entry keep.RecoveryEntry|string an entry or its copy_id: its journaled edits are deleted
function keep.workbench.discard(entry) end
---@return keep.WorkingCopy[]
function keep.workbench.copies() end
---@param ms integer let the timers (journal, polls) run this long
function keep.workbench.wait(ms) end

---@class keep.activity
---@field state keep.ActivityState
keep.activity = {}
---@param state keep.ActivityState
function keep.activity.set(state) end
---@param fn fun(new: keep.ActivityState, old: keep.ActivityState)
---@return keep.ActivitySubscription
function keep.activity.subscribe(fn) end

---@class json
---@field null userdata JSON null
json = {}
---@param text string
---@return any
function json.decode(text) end
---@param value any
---@param options {canonical: boolean?}?
---@return string
function json.encode(value, options) end
---@param t table?
---@return table t marked as a JSON array
function json.array(t) end
---@param t table?
---@return table t marked as a JSON object
function json.object(t) end

-- Policy contracts (SPEC §4).

---@class keep.PolicyDocument
---@field kind "session"|"snapshot"
---@field op "create"|"update"
---@field owner string
---@field title string
---@field description string?
---@field content string read lazily
---@field content_bytes integer
---@field previous {title: string, description: string?, version: integer, hash: string, content_bytes: integer, updated_at: string}?

---@class keep.PolicyAccessLog
---@field visits integer
---@field last_visited_ms integer
---@field first_visited_ms integer
---@field visitor string
---@field snapshot_id string
---@field snapshot_owner string

---@alias keep.ValidationRule fun(doc: keep.PolicyDocument, ctx: table): (string|string[]|{code: "invalid"|"too_large", message: string}|nil)

-- Content migrations (SPEC §7): a file migrations/NNNN_name.lua returns a keep.Migration.

---@class keep.MigrationDocument
---@field id string
---@field owner string
---@field kind "session"|"snapshot"
---@field title string may be changed
---@field description string? may be changed; nil clears it
---@field data any the decoded content; change it in place or assign a new value

---@class keep.Migration
---@field description string what the migration does
---@field target "sessions"|"snapshots"|"all"
---@field up fun(doc: keep.MigrationDocument) error() fails the document
