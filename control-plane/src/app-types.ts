import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CpConfig } from './config';
import type { Db } from './db';
import type { KeySync } from './keys/key-sync';
import type { ConfigDelivery } from './config/config.service';

export interface AppDeps {
  db: Db;
  config: CpConfig;
  keySync: KeySync;
  delivery: ConfigDelivery;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
  }
  interface FastifySchema {
    summary?: string;
    tags?: string[];
  }
}

export type AppInstance = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;
