import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { decodeCursor, page, pageSchema } from '../lib/pagination';
import { badRequest } from '../errors';
import { auditPage } from './audit.service';

const AuditEntry = Type.Object({
  id: Type.Integer(),
  ts: Type.String({ format: 'date-time' }),
  request_id: Type.String(),
  actor_id: Type.String(),
  actor_name: Type.String(),
  action: Type.String(),
  entity: Type.String(),
  entity_id: Type.String(),
  tenant_id: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
});

export function auditRoutes(app: AppInstance): void {
  app.get(
    '/v1/audit',
    {
      config: { perm: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Audit log, newest first (tenant-scoped tokens see their tenant only).',
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            cursor: Type.Optional(Type.String({ maxLength: 512 })),
            entity: Type.Optional(Type.String({ maxLength: 64 })),
            entity_id: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageSchema(AuditEntry) },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = q.limit ?? 50;
      const after = decodeCursor(q.cursor);
      if (after !== undefined && typeof after !== 'number') throw badRequest('query.cursor: invalid cursor');
      const rows = await auditPage(app.deps.db, actorOf(req), { entity: q.entity, entity_id: q.entity_id, after, limit });
      return page(rows, limit, (r) => r.id);
    },
  );
}
