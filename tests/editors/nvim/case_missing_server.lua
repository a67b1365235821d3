-- Without the server on PATH: no Lua errors, one notification telling how to install it,
-- typing still works, and :checkhealth says what is wrong.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

H.capture_notify()
H.setup({ settings = H.settings() })

H.run(function()
  for _, name in ipairs({ 'a.py', 'b.lua' }) do
    local path = vim.env.DSF_WORKDIR .. '/' .. name
    vim.fn.writefile({ '' }, path)
    vim.cmd.edit(vim.fn.fnameescape(path))
  end
  H.feed('ihello<Tab>')
  H.wait(function()
    return H.lines(0)[1] ~= ''
  end, 2000, 'typed')
  H.sleep(200)
  H.feed('<Esc>')
  H.sleep(50)
  H.result.lines = H.lines(0)
  H.result.clients = #vim.lsp.get_clients({ name = 'deepseek_fim' })
  H.result.statusline = require('deepseek_fim').statusline()
  vim.cmd('checkhealth deepseek_fim')
  H.wait(function()
    return table.concat(H.lines(0), '\n'):find('not found', 1, true) ~= nil
  end, 3000, 'health report')
  H.result.report = H.lines(0)
end)
