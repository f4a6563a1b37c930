/** Test-side peers of the contract: a fake coordinator that agents can dial. Not for production. */
export * from './fake-coordinator.js';
