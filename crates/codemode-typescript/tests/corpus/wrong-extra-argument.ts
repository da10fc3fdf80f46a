// an extra property the input does not declare
await tools.workspace.send_message({ channel: "general", text: "hi", urgent: true });
return "sent";
