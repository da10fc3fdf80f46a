// a tool with required inputs called with none
await tools.workspace.send_message();
return "sent";
