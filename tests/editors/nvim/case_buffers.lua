-- Several buffers share one server; each gets its own suggestions, and leaving a buffer
-- clears what was shown there.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings(), fallback = fallback, disabled_filetypes = { 'markdown' } })

H.run(function()
  local ns = H.namespace()
  local a = H.open('one.py', { '' })
  H.feed('ione = ')
  H.wait(function()
    return H.ghost(a, ns) ~= nil
  end, 4000, 'suggestion in the first buffer')
  H.result.ghost_a = H.ghost(a, ns)
  H.feed('<Esc>')
  H.sleep(50)
  local b = H.open('two.lua', { '' })
  H.result.ghost_a_after_leaving = H.ghost(a, ns) or vim.NIL
  H.feed('itwo = ')
  H.wait(function()
    return H.ghost(b, ns) ~= nil
  end, 4000, 'suggestion in the second buffer')
  H.result.ghost_b = H.ghost(b, ns)
  H.feed('<Tab><Esc>')
  H.wait(function()
    return H.lines(b)[1] ~= 'two = '
  end, 2000, 'accepted in the second buffer')
  H.result.lines_b = H.lines(b)
  H.result.lines_a = H.lines(a)
  H.result.clients = #vim.lsp.get_clients({ name = 'deepseek_fim' })
  H.result.attached = #vim.lsp.get_buffers_by_client_id(H.client(b).id)
  -- A disabled filetype is never attached.
  local path = vim.env.DSF_WORKDIR .. '/notes.md'
  vim.fn.writefile({ '' }, path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  H.sleep(300)
  H.result.markdown_attached = H.client(vim.api.nvim_get_current_buf()) ~= nil
end)
