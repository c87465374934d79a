/**
 * The login-server client (spec/06-login-server.md): LoginClient, and the refusal and retry helpers it
 * uses (errorFromReply, retryDelayMs).
 */
export * from './errors.js';
export * from './login-client.js';
