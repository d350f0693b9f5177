// ACK-only MLLP server on @medplum/hl7 (the Medplum agent's server), for the HL7 benchmark:
// every message is answered with its own buildAck() (AA), nothing is stored.
// Usage: node medplum_ack.mjs PORT  -- prints the port once it listens.
import { Hl7Server } from '@medplum/hl7';

const port = Number(process.argv[2]);
const server = new Hl7Server((connection) => {
  connection.addEventListener('message', (event) => {
    connection.send(event.message.buildAck());
  });
  connection.addEventListener('error', () => {});
});
await server.start(port, 'latin1');
console.log(String(port));
const stop = () => server.stop({ forceDrainTimeoutMs: 0 }).finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
