/**
 * Fleet-wide limits kept in Redis: one rate and one connection budget shared by every instance of a
 * service, so that scaling out does not multiply what the database sees.
 */
package io.sluice.redis;
