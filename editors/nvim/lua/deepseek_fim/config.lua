-- Options for the plugin: defaults, merging and validation.
-- Kept separate so every module reads the same, already-validated table.

local M = {}

---@class deepseek_fim.Keymaps
---@field accept string|false
---@field accept_line string|false
---@field accept_word string|false
---@field next string|false
---@field prev string|false
---@field dismiss string|false

---@class deepseek_fim.Options
---@field cmd string[]
---@field settings table
---@field filetypes string[]|nil
---@field disabled_filetypes string[]
---@field keymaps deepseek_fim.Keymaps|false
---@field fallback boolean
---@field debounce_ms integer
---@field root_markers string[]

---@type deepseek_fim.Options
M.defaults = {
  cmd = { 'deepseek-fim-lsp' },
  settings = {},
  filetypes = nil,
  disabled_filetypes = {
    'help',
    'qf',
    'gitrebase',
    'TelescopePrompt',
    'snacks_picker_input',
    'NvimTree',
    'neo-tree',
    'oil',
    'minifiles',
    'lazy',
    'mason',
    'dap-repl',
  },
  keymaps = {
    accept = '<Tab>',
    accept_line = '<M-l>',
    accept_word = '<M-w>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
  },
  fallback = false,
  debounce_ms = 75,
  root_markers = { '.git' },
}

---@type deepseek_fim.Options
M.options = vim.deepcopy(M.defaults)

local types = {
  cmd = { 'table', 'string' },
  settings = { 'table' },
  filetypes = { 'table', 'nil' },
  disabled_filetypes = { 'table' },
  keymaps = { 'table', 'boolean' },
  fallback = { 'boolean' },
  debounce_ms = { 'number' },
  root_markers = { 'table' },
}

--- Merge user options over the defaults; returns the options and a list of problems.
--- Lists (cmd, filetypes, ...) replace the default wholesale instead of merging by index.
---@param user table|nil
---@return deepseek_fim.Options, string[]
function M.merge(user)
  local problems = {}
  local opts = vim.deepcopy(M.defaults)
  for key, value in pairs(user or {}) do
    local allowed = types[key]
    if not allowed then
      table.insert(problems, ('unknown option `%s` ignored'):format(tostring(key)))
    elseif not vim.tbl_contains(allowed, type(value)) then
      table.insert(
        problems,
        ('option `%s` must be %s, got %s; using the default'):format(
          key,
          table.concat(allowed, ' or '),
          type(value)
        )
      )
    elseif key == 'keymaps' then
      if value == false then
        opts.keymaps = false
      elseif value ~= true then
        for name, lhs in pairs(value) do
          if opts.keymaps[name] == nil then
            table.insert(problems, ('unknown keymap `%s` ignored'):format(tostring(name)))
          elseif lhs == false or type(lhs) == 'string' then
            opts.keymaps[name] = lhs
          else
            table.insert(problems, ('keymap `%s` must be a string or false'):format(name))
          end
        end
      end
    elseif key == 'cmd' and type(value) == 'string' then
      opts.cmd = { value }
    else
      opts[key] = vim.deepcopy(value)
    end
  end
  if #opts.cmd == 0 or type(opts.cmd[1]) ~= 'string' then
    table.insert(problems, 'option `cmd` is empty; using the default')
    opts.cmd = vim.deepcopy(M.defaults.cmd)
  end
  if opts.filetypes and #opts.filetypes == 0 then
    opts.filetypes = nil
  end
  opts.debounce_ms = math.max(0, math.floor(opts.debounce_ms))
  return opts, problems
end

return M
