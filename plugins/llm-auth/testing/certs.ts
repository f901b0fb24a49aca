/**
 * Test certificates made with the `openssl` CLI in a temporary directory: a root CA, an
 * intermediate CA, client leaves (valid, expired, not yet valid, from another CA, server-only
 * usage) and a server certificate for a TLS listener. Test support only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  rootCa: string;
  intermediateCa: string;
  otherCa: string;
  /** Leaf (CN=svc-a) issued by the intermediate; `leafChain` = leaf + intermediate. */
  leaf: string;
  leafKey: string;
  leafChain: string;
  leafB: string;
  leafBKey: string;
  expired: string;
  expiredKey: string;
  notYetValid: string;
  notYetValidKey: string;
  wrongCa: string;
  wrongCaKey: string;
  serverUsage: string;
  serverUsageKey: string;
  server: string;
  serverKey: string;
  /** Leaf issued by a non-CA certificate (issued by the root) + that certificate. */
  viaNonCaChain: string;
  cleanup(): void;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'llm-auth-pki-'));
  const p = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  writeFileSync(
    p('ext.cnf'),
    `[ca_ext]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[client_ext]
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
[server_only_ext]
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
[server_ext]
basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
`,
  );
  const key = (name: string) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(`${name}.key`));
  const selfSigned = (name: string, cn: string) => {
    key(name);
    ssl('req', '-x509', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${cn}`, '-days', '3650', '-out', p(`${name}.crt`), '-extensions', 'ca_ext', '-config', p('ext.cnf'), '-set_serial', String(Math.floor(Math.random() * 1e9)));
  };
  // `openssl req -x509 -config ext.cnf` needs a [req] section.
  writeFileSync(p('ext.cnf'), readFileSync(p('ext.cnf'), 'utf8') + '[req]\ndistinguished_name=dn\n[dn]\n');
  const csr = (name: string, subj: string) => {
    key(name);
    ssl('req', '-new', '-key', p(`${name}.key`), '-subj', subj, '-out', p(`${name}.csr`), '-config', p('ext.cnf'));
  };
  let serial = 1000 + Math.floor(Math.random() * 1e6);
  const sign = (name: string, ca: string, ext: string, days = 365) =>
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${ca}.crt`), '-CAkey', p(`${ca}.key`), '-set_serial', String(serial++), '-days', String(days), '-extfile', p('ext.cnf'), '-extensions', ext, '-out', p(`${name}.crt`));
  // Certificates with explicit dates need `openssl ca`.
  writeFileSync(p('index.txt'), '');
  writeFileSync(p('serial'), '1000\n');
  writeFileSync(
    p('ca.cnf'),
    `[ca]
default_ca=dated
[dated]
database=${p('index.txt')}
new_certs_dir=${dir}
serial=${p('serial')}
default_md=sha256
policy=any
unique_subject=no
copy_extensions=none
x509_extensions=client_ext
[any]
commonName=supplied
[client_ext]
basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth
`,
  );
  const signDated = (name: string, ca: string, start: string, end: string) =>
    ssl('ca', '-batch', '-config', p('ca.cnf'), '-cert', p(`${ca}.crt`), '-keyfile', p(`${ca}.key`), '-in', p(`${name}.csr`), '-startdate', start, '-enddate', end, '-notext', '-out', p(`${name}.crt`));

  selfSigned('root', 'Test Root CA');
  selfSigned('other', 'Other CA');
  csr('inter', '/CN=Test Intermediate CA');
  sign('inter', 'root', 'ca_ext', 3650);
  csr('leaf', '/O=Acme/CN=svc-a');
  sign('leaf', 'inter', 'client_ext');
  csr('leafb', '/CN=svc-b');
  sign('leafb', 'root', 'client_ext');
  csr('expired', '/CN=svc-a');
  signDated('expired', 'inter', '20200101000000Z', '20210101000000Z');
  csr('future', '/CN=svc-a');
  signDated('future', 'inter', '20990101000000Z', '20991231000000Z');
  csr('wrongca', '/CN=svc-a');
  sign('wrongca', 'other', 'client_ext');
  csr('srvonly', '/CN=svc-a');
  sign('srvonly', 'inter', 'server_only_ext');
  csr('fakeinter', '/CN=Fake Intermediate');
  sign('fakeinter', 'root', 'client_ext');
  csr('viafake', '/CN=svc-a');
  sign('viafake', 'fakeinter', 'client_ext');
  csr('server', '/CN=localhost');
  sign('server', 'root', 'server_ext');

  const r = (n: string) => readFileSync(p(n), 'utf8');
  return {
    dir,
    rootCa: r('root.crt'),
    intermediateCa: r('inter.crt'),
    otherCa: r('other.crt'),
    leaf: r('leaf.crt'),
    leafKey: r('leaf.key'),
    leafChain: r('leaf.crt') + r('inter.crt'),
    leafB: r('leafb.crt'),
    leafBKey: r('leafb.key'),
    expired: r('expired.crt'),
    expiredKey: r('expired.key'),
    notYetValid: r('future.crt'),
    notYetValidKey: r('future.key'),
    wrongCa: r('wrongca.crt'),
    wrongCaKey: r('wrongca.key'),
    serverUsage: r('srvonly.crt'),
    serverUsageKey: r('srvonly.key'),
    server: r('server.crt'),
    viaNonCaChain: r('viafake.crt') + r('fakeinter.crt'),
    serverKey: r('server.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
