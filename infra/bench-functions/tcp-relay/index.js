// The cheapest hop there is, for the streaming benchmarks' baseline: bytes relayed between two
// sockets, no HTTP. Started with `fork` and the target URL; reports its own URL over IPC.
// Plain JavaScript, loaded without the benchmark's TypeScript loader, like the other baselines.
'use strict';
const { connect, createServer } = require('node:net');
const { URL } = require('node:url');

const target = new URL(process.argv[2]);
const relay = createServer((inbound) => {
  const outbound = connect(Number(target.port), target.hostname);
  const closeBoth = () => {
    inbound.destroy();
    outbound.destroy();
  };
  for (const socket of [inbound, outbound]) socket.on('error', closeBoth).on('close', closeBoth);
  inbound.pipe(outbound).pipe(inbound);
});
relay.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${relay.address().port}` }));
