const main = async () => {
  const channels = await tools.workspace.list_channels();
  for (const channel of channels.channels) {
    if (channel.name.startsWith('test')) {
      await tools.workspace.send_message({
        channel: channel.name,
        text: `Hello from ${channel.name}`
      });
    }
    if (channel.name.startsWith('e')) {
      await tools.workspace.add_reaction({
        message_id: (channel.messages[0].id as number),
        emoji: 'e'
      });
    }
  }
};

main().then(() => console.log('Done'));
