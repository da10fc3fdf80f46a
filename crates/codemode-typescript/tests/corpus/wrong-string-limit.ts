// a numeric argument as a string
const { messages } = await tools.workspace.list_messages({ channel: "general", limit: "5" });
return messages.length;
