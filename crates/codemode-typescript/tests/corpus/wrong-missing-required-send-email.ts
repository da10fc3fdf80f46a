// send_email without its required body
await tools.workspace.send_email({ to: "ana@example.com", subject: "Lunch" });
return "sent";
