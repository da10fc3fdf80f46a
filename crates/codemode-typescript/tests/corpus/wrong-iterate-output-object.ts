// iterating the output object instead of its array
for (const channel of await tools.workspace.list_channels({})) {
  console.log(channel.name);
}
return null;
