// the shipped demo program: right
const { channels } = await tools.workspace.list_channels({});

const sent = await Promise.all(
  channels
    .filter((c) => c.name.startsWith("test"))
    .map((c) => tools.workspace.send_message({ channel: c.name, text: "Hello from codemode!" })),
);

const lists = await Promise.all(
  channels
    .filter((c) => c.name.startsWith("e"))
    .map((c) => tools.workspace.list_messages({ channel: c.name })),
);
const reacted = await Promise.all(
  lists.flatMap((l) => l.messages).map((m) => tools.workspace.add_reaction({ message_id: m.id, emoji: "tada" })),
);

console.log(`sent ${sent.length} messages, reacted to ${reacted.length}`);
return { sent_to: sent.map((m) => m.channel), reacted_to: reacted.map((m) => m.id) };
