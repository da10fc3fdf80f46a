// a tool called without its namespace
const { channels } = await tools.list_channels({});
return channels.length;
