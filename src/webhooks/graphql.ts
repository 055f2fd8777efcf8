// Webhook subscriptions in GraphQL, for the "incident webhook configuration" flow (bundle incident-webhooks).
// Same service and rules as REST /v1/webhooks; invalid input comes back as typed user errors.
import { NotFound, userErrorOf, type UserError } from '../errors.js';
import { badUserInput, builder, UserErrorType } from '../graphql/builder.js';
import type { SubscriptionService, WebhookDelivery, WebhookSubscription } from './subscriptions.js';

declare module '../graphql/builder.js' {
  interface GraphQLServices {
    webhooks: SubscriptionService;
  }
}

const READ = { scope: 'webhooks:read' };
const WRITE = { scope: 'webhooks:write' };

/** Input mistakes become user errors (src/errors.ts maps them); anything else (a missing scope, say) stays a GraphQL error. */
async function asUserErrors<T>(work: () => Promise<T>): Promise<{ value?: T; userErrors: UserError[] }> {
  try {
    return { value: await work(), userErrors: [] };
  } catch (error) {
    const userError = userErrorOf(error);
    if (userError) return { userErrors: [userError] };
    throw error;
  }
}

const defined = <T extends Record<string, unknown>>(input: T) =>
  Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as { [K in keyof T]?: NonNullable<T[K]> };

/** The webhook types, queries and mutations, added to the schema once (src/modules.ts). */
export function addWebhookTypes(): void {
  const DeliveryType = builder.objectRef<WebhookDelivery>('WebhookDelivery').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      eventId: t.exposeString('eventId'),
      eventType: t.exposeString('eventType'),
      status: t.exposeString('status', { description: 'queued, retrying, succeeded, failed or held (its app is suspended; sent in order once resumed)' }),
      attempts: t.exposeInt('attempts'),
      attemptedAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
      responseStatus: t.exposeInt('responseStatus', { nullable: true }),
      latencyMs: t.exposeInt('latencyMs', { nullable: true }),
      nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
      error: t.exposeString('error', { nullable: true }),
    }),
  });

  const WebhookType = builder.objectRef<WebhookSubscription>('Webhook').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      url: t.exposeString('url'),
      events: t.exposeStringList('events'),
      enabled: t.exposeBoolean('enabled'),
      disabledReason: t.exposeString('disabledReason', { nullable: true }),
      rateLimit: t.exposeInt('rateLimit', { nullable: true, description: 'Deliveries per second at most; null: no limit' }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
      deliveries: t.field({
        type: [DeliveryType],
        authScopes: READ,
        args: { first: t.arg.int({ required: false }) },
        resolve: async (webhook, { first }, ctx) => {
          const limit = first ?? 20;
          if (limit < 1 || limit > 100) throw badUserInput('first must be between 1 and 100');
          return (await ctx.webhooks.deliveries(ctx.em, ctx.principal, webhook.id, undefined, limit)).items;
        },
      }),
    }),
  });

  builder.queryFields((t) => ({
    webhooks: t.field({
      type: [WebhookType],
      authScopes: READ,
      resolve: async (_root, _args, ctx) => (await ctx.webhooks.list(ctx.em, ctx.principal, 100)).items,
    }),
    webhook: t.field({
      type: WebhookType,
      nullable: true,
      authScopes: READ,
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, ctx) => ctx.webhooks.get(ctx.em, ctx.principal, String(id)).catch((e) => (e instanceof NotFound ? null : Promise.reject(e))),
    }),
  }));

  interface WebhookPayloadShape {
    webhook: WebhookSubscription | null;
    secret: string | null;
    userErrors: UserError[];
  }

  const WebhookPayload = builder.objectRef<WebhookPayloadShape>('WebhookPayload').implement({
    fields: (t) => ({
      webhook: t.field({ type: WebhookType, nullable: true, resolve: (p) => p.webhook }),
      secret: t.string({ nullable: true, description: 'The generated signing secret, shown once', resolve: (p) => p.secret }),
      userErrors: t.field({ type: [UserErrorType], resolve: (p) => p.userErrors }),
    }),
  });

  const DeletePayload = builder.objectRef<{ deletedId: string | null; userErrors: UserError[] }>('DeleteWebhookPayload').implement({
    fields: (t) => ({
      deletedId: t.exposeID('deletedId', { nullable: true }),
      userErrors: t.field({ type: [UserErrorType], resolve: (p) => p.userErrors }),
    }),
  });

  const TestPayload = builder.objectRef<{ deliveryId: string | null; userErrors: UserError[] }>('SendTestWebhookPayload').implement({
    fields: (t) => ({
      deliveryId: t.exposeID('deliveryId', { nullable: true }),
      userErrors: t.field({ type: [UserErrorType], resolve: (p) => p.userErrors }),
    }),
  });

  const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
    fields: (t) => ({
      url: t.string({ required: true }),
      events: t.stringList({ required: true }),
      secret: t.string({ required: false }),
      enabled: t.boolean({ required: false }),
      rateLimit: t.int({ required: false, description: 'Deliveries per second at most (1 to 1000)' }),
    }),
  });

  const UpdateWebhookInput = builder.inputType('UpdateWebhookInput', {
    fields: (t) => ({
      url: t.string({ required: false }),
      events: t.stringList({ required: false }),
      secret: t.string({ required: false }),
      enabled: t.boolean({ required: false }),
      rateLimit: t.int({ required: false, description: 'Deliveries per second at most (1 to 1000); null lifts the limit' }),
    }),
  });

  const RecoverPayload = builder
    .objectRef<{ recoveryId: string | null; deliveries: number | null; nextSince: Date | null; userErrors: UserError[] }>('RecoverWebhookPayload')
    .implement({
      fields: (t) => ({
        recoveryId: t.exposeID('recoveryId', { nullable: true }),
        deliveries: t.exposeInt('deliveries', { nullable: true, description: 'How many deliveries are sent again' }),
        nextSince: t.expose('nextSince', { type: 'DateTime', nullable: true, description: 'Set when more matched than one request resends: where to go on' }),
        userErrors: t.field({ type: [UserErrorType], resolve: (p) => p.userErrors }),
      }),
    });

  builder.mutationFields((t) => ({
    createWebhook: t.field({
      type: WebhookPayload,
      authScopes: WRITE,
      args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
      resolve: async (_root, { input }, ctx) => {
        const { rateLimit, ...rest } = defined(input);
        const result = await asUserErrors(() => ctx.webhooks.create(ctx.em, ctx.principal, { ...rest, rate_limit: rateLimit, url: input.url, events: input.events }));
        return { webhook: result.value?.subscription ?? null, secret: result.value?.secret ?? null, userErrors: result.userErrors };
      },
    }),
    updateWebhook: t.field({
      type: WebhookPayload,
      authScopes: WRITE,
      args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookInput, required: true }) },
      resolve: async (_root, { id, input }, ctx) => {
        const { rateLimit, ...rest } = defined(input);
        // An explicit null lifts the limit; an absent rateLimit leaves it.
        const rate = input.rateLimit === null ? { rate_limit: null } : rateLimit === undefined ? {} : { rate_limit: rateLimit };
        const result = await asUserErrors(() => ctx.webhooks.update(ctx.em, ctx.principal, String(id), { ...rest, ...rate }));
        return { webhook: result.value ?? null, secret: null, userErrors: result.userErrors };
      },
    }),
    deleteWebhook: t.field({
      type: DeletePayload,
      authScopes: WRITE,
      args: { id: t.arg.id({ required: true }) },
      resolve: async (_root, { id }, ctx) => {
        const result = await asUserErrors(() => ctx.webhooks.remove(ctx.em, ctx.principal, String(id)));
        return { deletedId: result.userErrors.length ? null : String(id), userErrors: result.userErrors };
      },
    }),
    recoverWebhook: t.field({
      type: RecoverPayload,
      authScopes: WRITE,
      description: 'Sends again, once each, the deliveries that failed or are still retrying, created in [since, until) (at most 14 days)',
      args: { id: t.arg.id({ required: true }), since: t.arg({ type: 'DateTime', required: true }), until: t.arg({ type: 'DateTime', required: false }) },
      resolve: async (_root, { id, since, until }, ctx) => {
        const result = await asUserErrors(() => ctx.webhooks.recover(ctx.em, ctx.principal, String(id), { since, until: until ?? undefined }));
        return { recoveryId: result.value?.recovery.id ?? null, deliveries: result.value?.recovery.deliveries ?? null, nextSince: result.value?.nextSince ?? null, userErrors: result.userErrors };
      },
    }),
    sendTestWebhook: t.field({
      type: TestPayload,
      authScopes: WRITE,
      args: { id: t.arg.id({ required: true }) },
      resolve: async (_root, { id }, ctx) => {
        const result = await asUserErrors(() => ctx.webhooks.sendTest(ctx.em, ctx.principal, String(id)));
        return { deliveryId: result.value?.id ?? null, userErrors: result.userErrors };
      },
    }),
  }));
}
