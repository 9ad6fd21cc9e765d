import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, validateConfig } from '../../src/config.js';

describe('server configuration', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('takes the outbound allow-list from the file (array or string), the environment and the flag, and reports every bad entry', () => {
    expect(validateConfig({}).outboundAllow).toEqual([]);
    expect(validateConfig({ outboundAllow: ['127.0.0.0/8', 'sip.example.com'] }).outboundAllow).toEqual(['127.0.0.0/8', 'sip.example.com']);
    expect(validateConfig({ outboundAllow: '127.0.0.0/8, 10.1.2.0/24' }).outboundAllow).toEqual(['127.0.0.0/8', '10.1.2.0/24']);
    expect(loadConfig({ env: { TOKHOST_OUTBOUND_ALLOW: '10.0.0.0/8', TOKHOST_ICE_ALLOW: '192.168.0.0/16' } })).toMatchObject({ outboundAllow: ['10.0.0.0/8'], iceAllow: ['192.168.0.0/16'] });
    expect(loadConfig({ flags: { 'outbound-allow': '127.0.0.0/8,sip.example.com' } }).outboundAllow).toEqual(['127.0.0.0/8', 'sip.example.com']);
    try {
      validateConfig({ outboundAllow: ['10.0.0.0/33', 'exa mple', '127.0.0.1'], iceAllow: 'nope/1' });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'outboundAllow[0] "10.0.0.0/33" is not a valid CIDR range (e.g. 10.1.2.0/24, fd00::/8)',
        'outboundAllow[1] "exa mple" is neither a CIDR range, an IP address nor a host name',
        'iceAllow[0] "nope/1" is not a valid CIDR range (e.g. 10.1.2.0/24, fd00::/8)',
      ]);
    }
  });

  it('fills in the documented defaults and freezes the result', () => {
    const c = validateConfig({}, '/srv');
    expect(c).toMatchObject({ port: 3000, host: '127.0.0.1', dataDir: '/srv/data', store: 'sqlite', apiKey: null, apiSecret: null, logLevel: 'info', maxBodyBytes: 102_400, authClockSkewSeconds: 30, iceServers: [], rtcMinPort: null, mediaWorkers: null });
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow();
  });

  it('reports every problem at once, including unknown settings', () => {
    try {
      validateConfig({ port: -1, host: 'a b', store: 'redis', apiKey: '12', maxBodyBytes: 1, rtcMinPort: 6000, rtcMaxPort: 5000, publicIp: '999.1.1.1', turnSecret: 'short', mediaWorkers: 0, colour: 'blue' } as never);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      for (const s of ['port', 'host', 'store', 'apiKey and apiSecret', 'maxBodyBytes', 'rtcMinPort must not be greater', 'publicIp', 'turnSecret', 'mediaWorkers', 'unknown setting "colour"']) expect(problems).toContain(s);
      expect((err as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    }
  });

  it('merges file < environment < flags and coerces strings', () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-config-'));
    writeFileSync(join(dir, 'tokhost.config.json'), JSON.stringify({ port: 4000, host: '0.0.0.0', logLevel: 'debug', iceServers: [{ urls: ['stun:a:3478'] }], webhookRetryDelaysMs: [10, 20] }));
    const c = loadConfig({ cwd: dir, env: { TOKHOST_PORT: '5000', TOKHOST_LOG_LEVEL: 'warn', TOKHOST_DEMO: 'true', TOKHOST_RTC_MIN_PORT: '40000', TOKHOST_RTC_MAX_PORT: '40100' }, flags: { port: '0', 'data-dir': 'd', 'media-workers': '3' } });
    expect(c).toMatchObject({ port: 0, host: '0.0.0.0', logLevel: 'warn', demo: true, dataDir: join(dir, 'd'), rtcMinPort: 40000, rtcMaxPort: 40100, mediaWorkers: 3, webhookRetryDelaysMs: [10, 20] });
    expect(c.iceServers).toEqual([{ urls: ['stun:a:3478'] }]);
    expect(loadConfig({ cwd: dir, env: { TOKHOST_WEBHOOK_RETRY_DELAYS_MS: '5, 50' } }).webhookRetryDelaysMs).toEqual([5, 50]);
  });

  it('keeps the operator surfaces closed by default and checks their settings', () => {
    expect(validateConfig({}, '/srv')).toMatchObject({ demo: false, demoMaxRooms: 100, operatorToken: null, metricsSessionLabels: false });
    const c = loadConfig({ env: { TOKHOST_OPERATOR_TOKEN: 'a-long-operator-token-0001', TOKHOST_METRICS_SESSION_LABELS: 'true' }, flags: { 'demo-max-rooms': '5' } });
    expect(c).toMatchObject({ operatorToken: 'a-long-operator-token-0001', metricsSessionLabels: true, demoMaxRooms: 5 });
    try {
      validateConfig({ operatorToken: 'short', demoMaxRooms: 0, metricsSessionLabels: 'maybe' } as never);
      expect.unreachable();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      for (const s of ['operatorToken must be 16 to 1024 printable ASCII characters', 'demoMaxRooms must be an integer from 1', 'metricsSessionLabels must be true or false']) expect(problems).toContain(s);
    }
  });

  it('names a bad config file and an unknown flag together with other problems', () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-config-'));
    writeFileSync(join(dir, 'c.json'), '[1]');
    try {
      loadConfig({ cwd: dir, flags: { config: 'c.json', colour: 'x', port: 'abc' } });
      expect.unreachable();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toContain('must hold a JSON object');
      expect(problems).toContain('unknown flag --colour');
      expect(problems).toContain('port must be an integer');
    }
  });
});
