/** The mock OpenAI-compatible upstream as a standalone server (docker compose, manual tests). */
import { startMockLlm } from '../test/harness/mock-llm';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
startMockLlm({ port, host }).then(
  (llm) => {
    console.log(`mock LLM listening on ${host}:${llm.port}`);
    const stop = () => void llm.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
