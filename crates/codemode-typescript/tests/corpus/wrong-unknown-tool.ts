// seen: a tool that does not exist (get_message)
const message = await tools.workspace.get_message({ id: 1 });
return message.text;
