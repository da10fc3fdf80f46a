// a misnamed output property: message_id instead of id
const message = await tools.workspace.send_message({ channel: "general", text: "hi" });
return message.message_id;
