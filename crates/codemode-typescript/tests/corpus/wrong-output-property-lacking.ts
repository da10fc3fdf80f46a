// seen (run 2): a property the output type lacks, channel.messages
const { channels } = await tools.workspace.list_channels({});
const first = channels[0].messages[0];
return first.id;
