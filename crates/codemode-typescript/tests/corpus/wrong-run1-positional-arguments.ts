// the seed-query run 1 program of Qwen2.5-Coder-1.5B, verbatim: iterates the output object and passes positional arguments
const channels = await tools.workspace.list_channels();
for (const channel of channels) {
  if (channel.name.startsWith('test')) {
    await tools.workspace.comment_on_issue(channel.name, 'This is a test message!');
  }
  if (channel.name.startsWith('e')) {
    await tools.workspace.add_reaction(channel.name, '👍');
  }
}
return { success: true };
