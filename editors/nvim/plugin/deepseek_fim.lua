-- Loaded by Neovim from the runtimepath. Nothing starts until
-- require('deepseek_fim').setup() is called; the command exists early so that
-- `:DeepseekFim status` can say so.
if vim.g.loaded_deepseek_fim then
  return
end
vim.g.loaded_deepseek_fim = true

if vim.fn.has('nvim-0.10') == 0 then
  vim.notify('deepseek-fim needs Neovim 0.10 or newer', vim.log.levels.WARN)
  return
end

require('deepseek_fim.commands').create()
