import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamService } from './service.ts';

/** The stream's figures in /metrics, read from the service when scraped. */
export function registerStreamMetrics(registry: Registry, stream: Pick<StreamService, 'stats'>): void {
  new Gauge({
    name: 'stream_open_connections',
    help: 'Event streams (GET /v1/stream) open on this instance',
    registers: [registry],
    collect() {
      this.set(stream.stats().open);
    },
  });
  new Counter({
    name: 'stream_events_sent_total',
    help: 'Events written to event streams on this instance, by type (replayed ones included)',
    labelNames: ['type'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, count] of stream.stats().sent) this.inc({ type }, count);
    },
  });
  new Counter({
    name: 'stream_clients_dropped_total',
    help: 'Event streams cut off on this instance because the client read too slowly (its buffer passed STREAM_BUFFER_BYTES)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stream.stats().dropped);
    },
  });
}
