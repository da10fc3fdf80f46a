// a number where a string is declared
await tools.workspace.send_message({ channel: "general", text: 2 });
return "sent";
