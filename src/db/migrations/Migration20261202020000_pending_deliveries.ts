import { Migration } from '@mikro-orm/migrations';

/**
 * The deliveries still to be made, by when they are due (a retry's next attempt, else when it was queued): what
 * the queue metrics read on every scrape (webhooks/telemetry.ts), without scanning the delivery history.
 */
export class Migration20261202020000_pending_deliveries extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index webhook_deliveries_pending_idx on webhook_deliveries ((coalesce(next_attempt_at, updated_at))) where status in ('queued', 'retrying');`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index webhook_deliveries_pending_idx;');
  }
}
