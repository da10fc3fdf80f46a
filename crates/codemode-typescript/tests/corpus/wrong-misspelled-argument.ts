// an argument name that is not declared
await tools.workspace.send_message({ channel_name: "general", text: "hi" });
return "sent";
