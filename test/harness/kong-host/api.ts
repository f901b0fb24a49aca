/**
 * Public API of the Kong-protocol test host (implemented in ./index.ts).
 *
 *   const host = await startKongHost({ config: 'kong/kong.yml' | {...decK 3.0 object} });
 *   await fetch(`${host.proxyUrl}/v1/chat/completions`, ...);
 *   host.logs          // every kong.log.* line of every plugin + host errors
 *   host.traces        // per request: route, status, response source, PDK calls per plugin/phase
 *   await host.stop();
 */

export interface DeclarativeConfig {
  _format_version: string;
  _transform?: boolean;
  services?: Array<Record<string, unknown>>;
  routes?: Array<Record<string, unknown>>;
  plugins?: Array<Record<string, unknown>>;
  consumers?: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface HostOptions {
  /** Path to a decK 3.0 file (YAML/JSON) or the parsed object. */
  config: string | DeclarativeConfig;
  /** Directories holding `<name>/<name>.cjs`; default dist/kong-plugins and dist/test-plugins. */
  pluginDirs?: string[];
  /** 0 (default) = a free port. */
  proxyPort?: number;
  adminPort?: number;
  /** Env for the plugin servers and for `{vault://env/NAME}` references (default process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Plugin-server processes per plugin, standing for Kong nodes that share Redis: requests are
   * spread over them, every phase of one request on the same process. Default 1, as in Kong.
   */
  serversPerPlugin?: number;
  /** nginx client_body_buffer_size; bodies larger than this are "spooled" (default 8192). */
  clientBodyBufferSize?: number;
  /** Optional TLS listener (mTLS tests): the client certificate chain reaches the PDK. */
  tls?: { cert: string; key: string; ca?: string; requestClientCert?: boolean };
  /** Echo plugin-server stderr and host logs to the console. */
  verbose?: boolean;
}

export interface HostLogLine {
  ts: number;
  level: 'debug' | 'info' | 'notice' | 'warn' | 'err' | 'crit';
  /** Plugin name when the line came from a plugin (kong.log.* or server stderr). */
  plugin?: string;
  message: string;
}

export interface PdkCall {
  plugin: string;
  phase: string;
  method: string;
}

export interface RequestTrace {
  id: number;
  method: string;
  path: string;
  route?: string;
  status: number;
  source: 'exit' | 'error' | 'service';
  pdkCalls: PdkCall[];
  /** Milliseconds spent in plugin phases (access + response), for benchmarks. */
  pluginMs: number;
  totalMs: number;
}

export interface KongHost {
  proxyUrl: string;
  adminUrl: string;
  /** Set when `tls` was given. */
  tlsUrl?: string;
  logs: HostLogLine[];
  traces: RequestTrace[];
  /** Same as POST /config on the admin listener; throws with field errors when invalid. */
  reload(config: string | DeclarativeConfig): Promise<void>;
  /** SIGKILL the plugin server(s) of a plugin (Kong then logs and lets requests through). */
  killPluginServer(name: string): Promise<void>;
  /** Close the plugin server's instances behind the host's back (next event answers "no plugin instance"). */
  forgetInstances(name: string): Promise<void>;
  /** Plugin-server stderr/stdout lines, per plugin. */
  serverOutput(name: string): string[];
  stop(): Promise<void>;
}
