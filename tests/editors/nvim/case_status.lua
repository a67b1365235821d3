-- The statusline follows the server's deepseekFim/status notifications; :DeepseekFim status
-- and :DeepseekFim stats tell the user what is going on.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

H.capture_notify()
H.setup({ settings = H.settings() })

H.run(function()
  H.result.statusline_before = require('deepseek_fim').statusline()
  local bufnr = H.open('status.py', { '' })
  H.wait(function()
    return require('deepseek_fim').statusline() == 'DeepSeek: ready'
  end, 3000, 'ready')
  H.result.statusline_ready = require('deepseek_fim').statusline()
  H.result.user_events = 0
  vim.api.nvim_create_autocmd('User', {
    pattern = 'DeepseekFimStatus',
    callback = function()
      H.result.user_events = H.result.user_events + 1
    end,
  })
  -- The emulator is scripted to refuse the first completion (HTTP 401).
  H.feed('iprint(')
  H.wait(function()
    return require('deepseek_fim').status().state == 'error'
  end, 4000, 'error status')
  H.result.statusline_error = require('deepseek_fim').statusline()
  H.result.status_error = require('deepseek_fim').status()
  vim.cmd('DeepseekFim status')
  vim.cmd('DeepseekFim stats')
  H.wait(function()
    for _, n in ipairs(H.result.notifications) do
      if n.msg:find('stats', 1, true) then
        return true
      end
    end
  end, 2000, 'stats shown')
  -- :DeepseekFim restart brings up a fresh server for the same buffer.
  local old_id = H.client(bufnr).id
  vim.cmd('DeepseekFim restart')
  H.wait(function()
    local c = H.client(bufnr)
    return c ~= nil and c.id ~= old_id and c.initialized
  end, 5000, 'restarted')
  H.wait(function()
    return require('deepseek_fim').statusline() == 'DeepSeek: ready'
  end, 3000, 'ready after restart')
  H.result.statusline_restarted = require('deepseek_fim').statusline()
  H.sleep(200)
  H.result.exit_warnings = 0
  for _, n in ipairs(H.result.notifications) do
    if n.msg:find('exited', 1, true) then
      H.result.exit_warnings = H.result.exit_warnings + 1
    end
  end
end)
