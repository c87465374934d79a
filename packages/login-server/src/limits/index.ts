/**
 * The login server's rate limits and load shedding (spec/06-login-server.md §7, LOGIN-RATE-*), sans-I/O:
 *
 *   config           LimitsConfig, DEFAULT_LIMITS, the validator, the policy mapping   §6.5-6.6
 *   account-backoff  the per-name failed-login rule                                    §6.1
 *   token-bucket     per-address token buckets, IPv6 /64 address keys                  §6.2
 *   admission        bounded concurrency, bounded FIFO queue, BUSY hints               §6.3
 */
export * from './account-backoff.js';
export * from './admission.js';
export * from './config.js';
export * from './token-bucket.js';
