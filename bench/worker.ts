// Child-process entry of the bench: `node dist/bench/worker.js <role> <json args>`. Servers and clients run in
// their own processes so each side of a measurement has a core of its own and CPU time per side is separable.
// Protocol: one JSON object per stdout line; first {"event":"ready",...}, last {"event":"result",...} for
// clients. Servers run until killed.

import { startDiscardServer, tcpClient, type TcpClientOptions } from './loopback.ts'
import { startNullSink } from './null-sink.ts'
import { rawProducer, type RawProducerOptions } from './raw-producer.ts'

const say = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`)
}

async function main(role: string | undefined, args: Record<string, unknown>): Promise<void> {
  switch (role) {
    case 'null-sink': {
      const sink = await startNullSink({
        host: args.host as string,
        partitions: args.partitions as number | undefined,
        storeDir: args.storeDir as string | undefined,
      })
      say({ event: 'ready', host: sink.host, port: sink.port })
      process.on('SIGTERM', () => {
        say({ event: 'result', ...sink.stats })
        void sink.close().then(() => process.exit(0))
      })
      return
    }
    case 'discard': {
      const host = args.host as string
      const s = await startDiscardServer(host)
      say({ event: 'ready', host, port: s.port })
      return
    }
    case 'tcp-client':
      say({ event: 'ready' })
      say({ event: 'result', ...(await tcpClient(args as unknown as TcpClientOptions)) })
      return
    case 'raw-producer':
      say({ event: 'ready' })
      say({ event: 'result', ...(await rawProducer(args as unknown as RawProducerOptions)) })
      return
    default:
      throw new Error(`unknown worker role ${JSON.stringify(role)}: null-sink, discard, tcp-client, raw-producer`)
  }
}

main(process.argv[2], JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>).then(
  () => {
    if (process.argv[2] === 'tcp-client' || process.argv[2] === 'raw-producer') process.exit(0)
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
