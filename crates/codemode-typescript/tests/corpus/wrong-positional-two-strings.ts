// positional arguments where one object is declared
await tools.workspace.send_message("general", "Deploy finished");
return "sent";
