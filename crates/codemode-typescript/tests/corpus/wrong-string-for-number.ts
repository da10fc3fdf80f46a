// a string where a number is declared
await tools.workspace.add_reaction({ message_id: "1", emoji: "tada" });
return "ok";
