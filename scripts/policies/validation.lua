--- Validation rules for sessions and snapshots: the reference system's limits.
--- Each rule gets the document being written and returns nothing to accept
--- it, a message (or a list of messages) to reject it as `invalid`, or
--- `{code = "too_large", message = …}` to reject it as too large.
---@module "validation"

local MAX_CONTENT_BYTES = 1572864 -- 1.5 MiB
local MAX_TITLE_CHARACTERS = 50
local MAX_DESCRIPTION_CHARACTERS = 250

---@param bytes integer
---@return string
local function mebibytes(bytes)
  return string.format("%.2f MiB", bytes / 1048576)
end

---@param text string
---@return string
local function trim(text)
  return (text:gsub("^%s+", ""):gsub("%s+$", ""))
end

return {
  rules = {
    ---@param doc keep.PolicyDocument
    content_size = function(doc)
      if doc.content_bytes > MAX_CONTENT_BYTES then
        local size, limit = mebibytes(doc.content_bytes), mebibytes(MAX_CONTENT_BYTES)
        if size == limit then -- too close to tell apart in MiB: give bytes
          size, limit = doc.content_bytes .. " bytes", MAX_CONTENT_BYTES .. " bytes (" .. limit .. ")"
        end
        return { code = "too_large", message = "content is " .. size .. "; the limit is " .. limit }
      end
    end,

    ---@param doc keep.PolicyDocument
    title_length = function(doc)
      local length = utf8.len(trim(doc.title)) or #doc.title
      if length == 0 then
        return "title is empty; give 1 to " .. MAX_TITLE_CHARACTERS .. " characters"
      elseif length > MAX_TITLE_CHARACTERS then
        return "title is " .. length .. " characters; the limit is " .. MAX_TITLE_CHARACTERS
      end
    end,

    ---@param doc keep.PolicyDocument
    description_length = function(doc)
      local length = doc.description and (utf8.len(doc.description) or #doc.description) or 0
      if length > MAX_DESCRIPTION_CHARACTERS then
        return "description is " .. length .. " characters; the limit is " .. MAX_DESCRIPTION_CHARACTERS
      end
    end,
  },
}
