-- :DeepseekFim toggle turns suggestions off (no requests while typing, nothing shown, the
-- server told through deepseekFim.setEnabled) and on again.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.capture_notify()
H.setup({ settings = H.settings(), fallback = fallback })
H.track_requests()

H.run(function()
  local bufnr = H.open('toggle.py', { '' })
  local ns = H.namespace()
  H.feed('ix = ')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 4000, 'suggestion shown while on')
  H.result.ghost_on = H.ghost(bufnr, ns)

  vim.cmd('DeepseekFim toggle')
  H.wait(function()
    return require('deepseek_fim').status().state == 'disabled'
  end, 2000, 'server reports disabled')
  H.result.ghost_right_after_toggle = H.ghost(bufnr, ns) or vim.NIL
  H.result.statusline_off = require('deepseek_fim').statusline()
  H.result.server_enabled_after_off = (H.stats() or {}).enabled
  local sent_before = H.result.requests_sent
  H.phase('off')
  H.feed('1 + 2<CR>y = ')
  H.sleep(700)
  H.result.requests_while_off = H.result.requests_sent - sent_before
  H.result.ghost_while_off = H.ghost(bufnr, ns) or vim.NIL
  H.phase('typed_while_off')

  vim.cmd('DeepseekFim toggle')
  H.wait(function()
    return require('deepseek_fim').status().state == 'ready'
  end, 2000, 'server reports ready again')
  H.result.server_enabled_after_on = (H.stats() or {}).enabled
  H.feed('z')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 4000, 'suggestion shown after turning back on')
  H.result.statusline_on = require('deepseek_fim').statusline()
end)
