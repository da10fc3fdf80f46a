// calling .map on the output object
const channels = await tools.workspace.list_channels({});
return channels.map((c) => c.name);
