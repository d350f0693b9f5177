// ACK-only MLLP server on node-hl7-server: createInbound + sendResponse('AA'), nothing stored.
// Usage: node node_hl7_server_ack.mjs PORT  -- prints the port once it listens.
import { Server } from 'node-hl7-server';

const port = Number(process.argv[2]);
const server = new Server({ bindAddress: '127.0.0.1' });
const inbound = server.createInbound({ port }, async (req, res) => {
  await res.sendResponse('AA');
});
inbound.on('listen', () => console.log(String(port)));
const stop = () => inbound.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
