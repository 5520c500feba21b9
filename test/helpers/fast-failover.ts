// Broker settings for tests that kill or pause brokers: failures are noticed in about 2 s (broker session, ISR
// lag) and the metadata quorum elects within about a second, so a test's failover fits in seconds.
export const FAST_FAILOVER: Readonly<Record<string, string>> = {
  'broker.session.timeout.ms': '2000',
  'broker.heartbeat.interval.ms': '300',
  'replica.lag.time.max.ms': '2000',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
}
