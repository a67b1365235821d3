-- Shared mutable state of the plugin, in one place so modules never disagree about it.

---@class deepseek_fim.Status
---@field state string  ready|busy|error|inactive|disabled (from the server), or local states
---@field message string
---@field uri string|nil

---@class deepseek_fim.State
---@field configured boolean setup() has run
---@field options deepseek_fim.Options
---@field enabled boolean client-side switch (:DeepseekFim toggle)
---@field renderer 'native'|'fallback'
---@field status deepseek_fim.Status last `deepseekFim/status` notification
---@field server_missing boolean the server command was not found on PATH
---@field exits integer abnormal server exits this session
---@field last_exit string|nil description of the last abnormal exit

---@type deepseek_fim.State
local M = {
  configured = false,
  options = require('deepseek_fim.config').options,
  enabled = true,
  renderer = 'fallback',
  status = { state = 'inactive', message = 'Not started', uri = nil },
  server_missing = false,
  exits = 0,
  last_exit = nil,
}

return M
