import { Migration } from '@mikro-orm/migrations';

/**
 * `traceparent`: the W3C trace context of the change that wrote the event (null when tracing is off), so that its
 * delivery attempts, run later by a worker, are spans of the same trace (observability/tracing.ts).
 */
export class Migration20261202030000_event_trace_context extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table domain_events add column traceparent text null;');
  }

  override async down(): Promise<void> {
    this.addSql('alter table domain_events drop column traceparent;');
  }
}
