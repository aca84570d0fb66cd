// The settings of per-client limits: their defaults, 0 for off, and values refused at start with the variable named.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return null;
};

describe('per-client limit settings', () => {
  it('default to limits a dashboard never reaches, with X-Forwarded-For not read', () => {
    expect(loadConfig({}).rateLimits).toEqual({
      tokenOperationsPerMinute: 6_000,
      ipOperationsPerMinute: 30_000,
      tokenUpstreamCallsPerMinute: 6_000,
      tokenSubscriptions: 1_000,
      trustedProxies: 0,
    });
  });

  it('take 0 for off', () => {
    const env = { RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE: '0', RATE_LIMIT_IP_OPERATIONS_PER_MINUTE: '0', RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE: '0', RATE_LIMIT_TOKEN_SUBSCRIPTIONS: '0' };
    expect(loadConfig(env).rateLimits).toEqual({ tokenOperationsPerMinute: 0, ipOperationsPerMinute: 0, tokenUpstreamCallsPerMinute: 0, tokenSubscriptions: 0, trustedProxies: 0 });
  });

  it('refuse what is not a count, naming the variable', () => {
    expect(refusal({ RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE: '-1' })).toBe('RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE must be an integer between 0 and 10000000, got "-1"');
    expect(refusal({ RATE_LIMIT_IP_OPERATIONS_PER_MINUTE: '1.5' })).toBe('RATE_LIMIT_IP_OPERATIONS_PER_MINUTE must be an integer between 0 and 10000000, got "1.5"');
    expect(refusal({ RATE_LIMIT_TOKEN_SUBSCRIPTIONS: 'many' })).toBe('RATE_LIMIT_TOKEN_SUBSCRIPTIONS must be an integer between 0 and 10000000, got "many"');
    expect(refusal({ TRUSTED_PROXIES: '101' })).toBe('TRUSTED_PROXIES must be an integer between 0 and 100, got "101"');
  });

  it('refuse a rate of calls to GitLab below what one operation may make', () => {
    expect(refusal({ RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE: '99' })).toBe(
      'RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE (99) must be 0 or at least UPSTREAM_MAX_CALLS_PER_OPERATION (100): one operation may make that many calls',
    );
    expect(refusal({ RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE: '10', UPSTREAM_MAX_CALLS_PER_OPERATION: '10' })).toBeNull();
  });
});
