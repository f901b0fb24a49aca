import { afterAll } from 'vitest';
import Redis from 'ioredis';
import { luaSuite } from './lua-suite';

const redis = new Redis({ host: '127.0.0.1', port: 6379 });
afterAll(async () => {
  await redis.quit();
});
luaSuite('redis', () => redis);
