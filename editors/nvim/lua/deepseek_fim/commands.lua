-- :DeepseekFim status | toggle | enable | disable | stats | restart

local state = require('deepseek_fim.state')
local util = require('deepseek_fim.util')

local M = {}

---@param value any
---@return string
local function pct(value)
  if type(value) ~= 'number' then
    return '-'
  end
  return ('%.0f%%'):format(value * 100)
end

---@param value any
---@return string
local function num(value)
  if type(value) ~= 'number' then
    return '-'
  end
  if value == math.floor(value) then
    return ('%d'):format(value)
  end
  return ('%.2f'):format(value)
end

--- What `modelAvailable = nil` means: neither listed by `GET /models` nor answered yet.
M.unconfirmed = 'not confirmed yet (not in the API\'s model list, or not asked; the first answer tells)'

--- Readable lines for a `deepseekFim/stats` result.
---@param stats table
---@return string[]
function M.format_stats(stats)
  local lines = {}
  local available = stats.modelAvailable
  local avail = available == true and 'reachable'
    or available == false and 'NOT offered by the API'
    or M.unconfirmed
  table.insert(lines, ('Model: %s (%s)'):format(tostring(stats.model or '?'), avail))
  table.insert(lines, ('Server: %s'):format(stats.enabled == false and 'disabled' or 'enabled'))
  for _, part in ipairs({ { 'Session', stats.session }, { 'Today', stats.today } }) do
    local t = part[2]
    if type(t) == 'table' then
      table.insert(
        lines,
        ('%s: %s requests, %s shown, %s accepted (%s), cost $%s'):format(
          part[1],
          num(t.requests),
          num(t.suggestionsShown),
          num(t.accepted),
          pct(t.acceptanceRate),
          type(t.costUsd) == 'number' and ('%.4f'):format(t.costUsd) or '-'
        )
      )
      table.insert(
        lines,
        ('  tokens: %s cache hit, %s cache miss, %s completion (hit ratio %s); '
          .. 'cache answers %s, type-through %s'):format(
          num(t.cacheHitTokens),
          num(t.cacheMissTokens),
          num(t.completionTokens),
          pct(t.cacheHitRatio),
          num(t.cacheHits),
          num(t.typeThroughHits)
        )
      )
    end
  end
  if type(stats.lastError) == 'string' and stats.lastError ~= '' then
    table.insert(lines, 'Last error: ' .. stats.lastError)
  end
  return lines
end

---@return string
local function status_line()
  local client = require('deepseek_fim.client').get()
  local s = state.status
  local parts = {}
  if not state.configured then
    return 'not set up: call require("deepseek_fim").setup()'
  end
  if state.server_missing then
    table.insert(parts, ('server `%s` not found on PATH'):format(state.options.cmd[1]))
  elseif client then
    table.insert(parts, ('server %s'):format(s.state))
    if s.message ~= '' then
      table.insert(parts, s.message)
    end
  else
    table.insert(parts, 'server not running')
    if state.last_exit then
      table.insert(parts, 'last ' .. state.last_exit)
    end
  end
  table.insert(parts, state.enabled and 'suggestions on' or 'suggestions off')
  table.insert(parts, ('renderer %s'):format(state.renderer))
  return table.concat(parts, ' — ')
end

local subcommands = {
  status = function()
    util.notify(status_line())
  end,
  toggle = function()
    local on = require('deepseek_fim').toggle()
    util.notify(on and 'suggestions enabled' or 'suggestions disabled')
  end,
  enable = function()
    require('deepseek_fim').toggle(true)
    util.notify('suggestions enabled')
  end,
  disable = function()
    require('deepseek_fim').toggle(false)
    util.notify('suggestions disabled')
  end,
  stats = function()
    require('deepseek_fim.client').stats(function(err, result)
      if err or type(result) ~= 'table' then
        local why = type(err) == 'table' and (err.message or vim.inspect(err)) or tostring(err)
        util.notify('no stats: ' .. why, vim.log.levels.WARN)
        return
      end
      util.notify('stats\n' .. table.concat(M.format_stats(result), '\n'))
    end)
  end,
  restart = function()
    require('deepseek_fim.client').restart()
    util.notify('restarting the server')
  end,
}

---@param args string
function M.run(args)
  local name = vim.trim(args or '')
  if name == '' then
    name = 'status'
  end
  local fn = subcommands[name]
  if not fn then
    util.notify(
      ('unknown subcommand `%s` (use: %s)'):format(
        name,
        table.concat(vim.tbl_keys(subcommands), ', ')
      ),
      vim.log.levels.ERROR
    )
    return
  end
  fn()
end

---@return string[]
function M.names()
  local names = vim.tbl_keys(subcommands)
  table.sort(names)
  return names
end

function M.create()
  vim.api.nvim_create_user_command('DeepseekFim', function(cmd)
    M.run(cmd.args)
  end, {
    nargs = '?',
    desc = 'deepseek-fim: status | toggle | enable | disable | stats | restart',
    complete = function(lead)
      return vim.tbl_filter(function(n)
        return n:find(lead, 1, true) == 1
      end, M.names())
    end,
  })
end

return M
