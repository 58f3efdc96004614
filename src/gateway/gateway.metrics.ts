import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service.js';

@Injectable()
export class GatewayMetrics {
  readonly connected: Gauge;
  readonly eventsIn: Counter<'event'>;
  readonly eventsOut: Counter<'event'>;
  readonly ackLatency: Histogram<'event' | 'outcome'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.connected = new Gauge({ name: 'socketio_connected_sockets', help: 'Authenticated Socket.IO connections on this instance', registers });
    this.eventsIn = new Counter({ name: 'socketio_events_in_total', help: 'Client events received, by name', labelNames: ['event'], registers });
    this.eventsOut = new Counter({ name: 'socketio_events_out_total', help: 'Server events emitted (per room emit), by name', labelNames: ['event'], registers });
    this.ackLatency = new Histogram({
      name: 'socketio_ack_duration_seconds',
      help: 'Time from a client event to its acknowledgement',
      labelNames: ['event', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }
}
