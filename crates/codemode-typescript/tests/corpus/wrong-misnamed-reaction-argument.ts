// `reaction` where `emoji` is declared
await tools.workspace.add_reaction({ message_id: 1, reaction: "wave" });
return "ok";
