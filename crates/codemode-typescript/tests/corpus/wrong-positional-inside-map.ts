// positional arguments inside Promise.all
const { channels } = await tools.workspace.list_channels({});
await Promise.all(channels.map((c) => tools.workspace.send_message(c.name, "hi")));
return channels.length;
