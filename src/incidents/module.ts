// The incidents module: the domain behind GraphQL. Its changes emit events through the webhooks module's outbox.
import type { FeatureModule } from '../module.js';
import { Incident, IncidentNote } from './entities.js';
import { addIncidentTypes } from './graphql.js';
import { IncidentService } from './service.js';

declare module '../module.js' {
  interface Services {
    incidents: IncidentService;
  }
}

export const incidentsModule: FeatureModule = {
  name: 'incidents',
  entities: [Incident, IncidentNote],
  tenantOwned: [Incident, IncidentNote],
  platformWide: [],
  graphql: addIncidentTypes,
  create(core, { events }) {
    const incidents = new IncidentService(events, core.clock);
    return { services: { incidents }, graphql: { incidents } };
  },
};
